using Shrink.Onnx;
using Shrink.Onnx.Proto;
using Google.Protobuf;
using Xunit;

namespace Shrink.Cli.Tests.Security;

/// <summary>
/// The attacks of the safe-files issue against the <c>shrink</c> command: each bad case gets one line,
/// exit code 2, and leaves every input byte for byte as it was and nothing new written.
/// </summary>
public class CliFileSafetyTests
{
    private static void AssertRefusedAndUnchanged(TempDirectory dir, CliRunner.Result r, string expected)
    {
        CliRunner.AssertBadInput(r, expected);
        Assert.Empty(Directory.EnumerateFiles(dir.Path, "*.tmp", SearchOption.AllDirectories));
    }

    private static Dictionary<string, byte[]> Snapshot(TempDirectory dir) =>
        Directory.EnumerateFiles(dir.Path).ToDictionary(f => f, File.ReadAllBytes);

    private static void AssertSame(Dictionary<string, byte[]> before, TempDirectory dir)
    {
        Assert.Equal(before.Keys.Order(), Directory.EnumerateFiles(dir.Path).Order());
        foreach (var (f, bytes) in before) Assert.Equal(bytes, File.ReadAllBytes(f));
    }

    /// <summary>Writes m.onnx, whose tensor <paramref name="tensor"/> (16 bytes) is stored externally at <paramref name="location"/>.</summary>
    private static void ModelReading(TempDirectory dir, string tensor, string location)
    {
        var m = ProtoModels.Minimal();
        var t = new TensorProto { Name = tensor, DataType = 2, DataLocation = TensorProto.Types.DataLocation.External };
        t.Dims.Add(16);
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        m.Graph.Initializer.Add(t);
        File.WriteAllBytes(dir.File("m.onnx"), m.ToByteArray());
    }

    [Fact]
    public void OutDevNull_IsRefusedAndTheDeviceKept()
    {
        using var dir = new TempDirectory();
        var m = CliRunner.Zoo(dir, "lenet300");
        AssertRefusedAndUnchanged(dir, CliRunner.Run("convert", m, "--out", "/dev/null"), "character device");
        Assert.Equal(Shrink.IO.FileKind.CharacterDevice, Shrink.IO.FileIdentity.Of("/dev/null").Kind);
    }

    [Fact]
    public void OutThroughASymlinkToTheCurrentDirectory_IsRefused()
    {
        using var dir = new TempDirectory();
        var m = CliRunner.Zoo(dir, "lenet300", "in.onnx");
        Directory.CreateSymbolicLink(dir.File("alias"), dir.Path);
        var before = Snapshot(dir);

        AssertRefusedAndUnchanged(dir, CliRunner.Run("prune", m, "--sparsity", "0.5", "--bench-batch", "none", "--out", Path.Combine(dir.File("alias"), "in.onnx")), "same file as the input");
        AssertSame(before, dir);
    }

    [Fact]
    public void ExternalDataLinkedOutOfTheModelDirectory_IsNeverRead()
    {
        using var dir = new TempDirectory();
        ModelReading(dir, "secret", "w.bin");
        File.CreateSymbolicLink(dir.File("w.bin"), "/etc/passwd");

        AssertRefusedAndUnchanged(dir, CliRunner.Run("convert", dir.File("m.onnx"), "--out", dir.File("c.onnx")), "links to a file outside the model's directory");
        Assert.False(File.Exists(dir.File("c.onnx")));
    }

    [Fact]
    public void ExternalDataInASymlinkedDirectory_IsNeverRead()
    {
        using var dir = new TempDirectory();
        ModelReading(dir, "secret", "etc/passwd");
        Directory.CreateSymbolicLink(dir.File("etc"), "/etc");

        AssertRefusedAndUnchanged(dir, CliRunner.Run("inspect", dir.File("m.onnx")), "outside the model's directory");
    }

    [Fact]
    public void AFifoNamedAsExternalData_IsRefusedWithoutHanging()
    {
        using var dir = new TempDirectory();
        ModelReading(dir, "piped", "w.fifo");
        Shell.Run("mkfifo", dir.File("w.fifo"));

        var run = Task.Run(() => CliRunner.Run("inspect", dir.File("m.onnx")));
        Assert.True(run.Wait(TimeSpan.FromSeconds(20)), "inspect hung on a FIFO");
        CliRunner.AssertBadInput(run.Result, "FIFO");
    }

    [Theory]
    [InlineData("model")]
    [InlineData("--calib-data")]
    [InlineData("--layers")]
    public void AFifoNamedAsAnInput_IsRefusedWithoutHanging(string which)
    {
        using var dir = new TempDirectory();
        var m = CliRunner.Zoo(dir, "lenet300");
        Shell.Run("mkfifo", dir.File("in.fifo"));
        var args = which == "model" ? new[] { "inspect", dir.File("in.fifo") } : new[] { "quantize", m, which, dir.File("in.fifo"), "--out", dir.File("q.onnx") };

        var run = Task.Run(() => CliRunner.Run(args));
        Assert.True(run.Wait(TimeSpan.FromSeconds(20)), $"{which}: a FIFO hung the command");
        CliRunner.AssertBadInput(run.Result, "FIFO");
    }

    [Fact]
    public void SaveOptimizedThroughASymlinkOntoTheInput_IsRefused()
    {
        using var dir = new TempDirectory();
        var m = CliRunner.Zoo(dir, "lenet300");
        File.CreateSymbolicLink(dir.File("opt.onnx"), m);
        var before = File.ReadAllBytes(m);

        AssertRefusedAndUnchanged(dir, CliRunner.Run("bench", m, "--batch", "1", "--runs", "1", "--warmup", "0", "--save-optimized", dir.File("opt.onnx")), "symbolic link");
        Assert.Equal(before, File.ReadAllBytes(m));
    }

    [Fact]
    public void SaveOptimized_WritesALoadableFileAtomically()
    {
        using var dir = new TempDirectory();
        var m = CliRunner.Zoo(dir, "lenet300");

        Assert.Equal(0, CliRunner.Run("bench", m, "--batch", "1", "--runs", "1", "--warmup", "0", "--save-optimized", dir.File("opt.onnx")).ExitCode);

        Shrink.Runtime.OnnxRunner.CheckLoads(dir.File("opt.onnx"));
        Assert.Empty(Directory.EnumerateFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void ConvertExternalData_NeverReplacesTheInputsData()
    {
        using var dir = new TempDirectory();
        var m = CliRunner.Zoo(dir, "lenet300");
        Assert.Equal(0, CliRunner.Run("convert", m, "--out", dir.File("a.onnx"), "--external-data").ExitCode);
        File.Move(dir.File("a.onnx"), dir.File("in.onnx"));  // in.onnx now reads a.onnx.<hash>.data
        var before = Snapshot(dir);

        Assert.Equal(0, CliRunner.Run("prune", dir.File("in.onnx"), "--sparsity", "0.5", "--bench-batch", "none", "--out", dir.File("a.onnx")).ExitCode);

        foreach (var (f, bytes) in before) Assert.Equal(bytes, File.ReadAllBytes(f));
        Shrink.Runtime.OnnxRunner.CheckLoads(dir.File("in.onnx"));
    }

    [Theory]
    [InlineData("prune", "--teacher")]
    [InlineData("cluster", "--teacher")]
    [InlineData("quantize", "--calib-data")]
    [InlineData("quantize", "--layers")]
    public void AnOutputThatIsAnotherInput_IsRefused(string command, string option)
    {
        using var dir = new TempDirectory();
        var m = CliRunner.Zoo(dir, "lenet300");
        var other = option == "--teacher" ? CliRunner.Zoo(dir, "lenet300", "t.onnx") : dir.File(option == "--layers" ? "l.json" : "c.npy");
        if (option == "--layers") File.WriteAllText(other, "{\"fc1\": \"int8\"}");
        if (option == "--calib-data") Shrink.Data.NpyFile.Write(other, Shrink.Data.NpyArray.FromFloat32(new float[784], new long[] { 1, 1, 28, 28 }));
        var before = Snapshot(dir);
        var args = new List<string> { command, m, option, other, "--out", other };
        if (command == "prune") args.AddRange(new[] { "--sparsity", "0.5" });

        AssertRefusedAndUnchanged(dir, CliRunner.Run(args.ToArray()), "is an input");
        AssertSame(before, dir);
    }

    [Fact]
    public void TrainWithTheRunDirectorysModelAsInput_IsRefusedBeforeTraining()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("run"));
        var m = CliRunner.Zoo(dir, "lenet300", Path.Combine("run", "model.onnx"));
        var before = File.ReadAllBytes(m);

        var r = CliRunner.Run("train", "--model", m, "--epochs", "1", "--limit", "64", "--data", "embedded", "--run-dir", dir.File("run"), "--out", dir.File("t.onnx"));

        CliRunner.AssertBadInput(r, "is an input");
        Assert.Equal(before, File.ReadAllBytes(m));
        Assert.False(File.Exists(dir.File("t.onnx")));
    }

    [Fact]
    public void RunDirThatIsAFile_IsBadInput()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("run"), "");
        var r = CliRunner.Run("train", "--model", "lenet300", "--epochs", "1", "--limit", "64", "--data", "embedded", "--run-dir", dir.File("run"), "--out", dir.File("t.onnx"));
        CliRunner.AssertBadInput(r, "not a directory");
    }

    [Fact]
    public void EmptyOut_IsBadInput()
    {
        using var dir = new TempDirectory();
        var m = CliRunner.Zoo(dir, "lenet300");
        CliRunner.AssertBadInput(CliRunner.Run("convert", m, "--out", ""), "--out is empty");
    }

    [Fact]
    public void AnUnwritableDirectory_IsAnEnvironmentErrorNotABug()
    {
        var r = CliRunner.Run("zoo", "lenet300", "--out", "/sys/m.onnx");
        CliRunner.AssertBadInput(r, "/sys/m.onnx");
        Assert.DoesNotContain("bug", r.Err);
    }

    [Fact]
    public void ConvertOfAModelOnnxRuntimeRejects_IsRefusedUnlessAllowed()
    {
        using var dir = new TempDirectory();
        var m = ProtoModels.Minimal();
        m.Graph.Node[0].OpType = "NoSuchOperator";
        File.WriteAllBytes(dir.File("bad.onnx"), m.ToByteArray());

        AssertRefusedAndUnchanged(dir, CliRunner.Run("convert", dir.File("bad.onnx"), "--out", dir.File("c.onnx")), "ONNX Runtime cannot load");
        Assert.False(File.Exists(dir.File("c.onnx")));

        var allowed = CliRunner.Run("convert", dir.File("bad.onnx"), "--out", dir.File("c.onnx"), "--allow-invalid");
        Assert.Equal(0, allowed.ExitCode);
        Assert.Contains("warning: ONNX Runtime cannot load", allowed.Err);
        Assert.True(File.Exists(dir.File("c.onnx")));
    }

    [Fact]
    public void NamesWithControlCharactersOrOfHugeLength_GiveOneReadableLine()
    {
        using var dir = new TempDirectory();
        var m = CliRunner.Zoo(dir, "lenet300");

        var newline = CliRunner.Run("quantize", m, "--exclude", "evil\nname", "--out", dir.File("q.onnx"));
        CliRunner.AssertBadInput(newline, "evil\\nname");

        var huge = CliRunner.Run("quantize", m, "--exclude", new string('n', 200_000), "--out", dir.File("q.onnx"));
        CliRunner.AssertBadInput(huge, "chars");
        Assert.True(huge.Err.Length < 1200, $"{huge.Err.Length} characters");
    }
}
