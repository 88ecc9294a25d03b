using System.Diagnostics;
using Shrink.Onnx;
using Shrink.Data;
using Xunit;
using static Shrink.TestSupport.Allocations;

namespace Shrink.Cli.Tests.Security;

/// <summary>
/// Files and options that declare more than they hold, or more than fits in memory, given to the commands: one line,
/// exit code 2, nothing written, and nothing allocated first.
/// </summary>
public class ResourceBoundsTests
{
    [Fact]
    public void Npy_WrappingShape_GivesExitCode2OnTheCli()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        long big = 1L << 32;
        File.WriteAllBytes(dir.File("x.npy"), HostileFiles.Npy([big, big, big, big]));

        var r = CliRunner.Run("run", model, "--input", dir.File("x.npy"), "--out", dir.File("y.npy"));

        CliRunner.AssertBadInput(r, "is truncated: shape (4294967296, 4294967296, 4294967296, 4294967296)");
        Assert.False(File.Exists(dir.File("y.npy")));
    }

    [Fact]
    public void Idx_GzipBombInADataDirectory_GivesExitCode2OnTheCli()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        IdxTestFiles.WriteSet(dir.Path, gzip: true);
        File.WriteAllBytes(dir.File("t10k-images-idx3-ubyte.gz"), HostileFiles.IdxGzipBomb(count: 3, inflatedGiB: 1));

        var r = CliRunner.Run("eval", model, "--data", dir.Path);

        CliRunner.AssertBadInput(r, "inflates to more than the 3x28x28 image bytes (2352) its header declares");
    }

    [Theory]
    [InlineData("ort")]
    [InlineData("torch")]
    public void Run_WithABatchOfZeroSamples_GivesExitCode2(string engine)
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        NpyFile.Write(dir.File("x.npy"), NpyArray.FromFloat32([], [0, 1, 28, 28]));

        var r = CliRunner.Run("run", model, "--input", dir.File("x.npy"), "--out", dir.File("y.npy"), "--engine", engine);

        CliRunner.AssertBadInput(r, "input 'input' has batch size 0 (shape [0,1,28,28]); give at least one sample");
        Assert.False(File.Exists(dir.File("y.npy")));
    }

    [Fact]
    public void Eval_OnAnEmptyTestSet_GivesExitCode2()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        File.WriteAllBytes(dir.File("train-images-idx3-ubyte"), IdxTestFiles.Images(1, 28, 28));
        File.WriteAllBytes(dir.File("train-labels-idx1-ubyte"), IdxTestFiles.Labels(3));
        File.WriteAllBytes(dir.File("t10k-images-idx3-ubyte"), IdxTestFiles.Images(0, 28, 28));
        File.WriteAllBytes(dir.File("t10k-labels-idx1-ubyte"), IdxTestFiles.Labels());

        var r = CliRunner.Run("eval", model, "--data", dir.Path);

        CliRunner.AssertBadInput(r, "the test set has no samples");
        Assert.DoesNotContain("0/0", r.Out);
    }

    [Fact]
    public void Inspect_DuplicateGraphInputNames_GivesExitCode2()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("m.onnx"), OnnxWriter.ToBytes(HostileFiles.DuplicateInputs()));

        var r = CliRunner.Run("inspect", dir.File("m.onnx"));

        CliRunner.AssertBadInput(r, "declares input 'input' 2 times; input names must be unique");
    }

    [Theory]
    [InlineData("", 99, "opset 99 of domain ai.onnx is not one ONNX Runtime runs (it knows ai.onnx opsets 1 to 26)")]
    [InlineData("", 27, "opset 27 of domain ai.onnx")]
    [InlineData("", 0, "opset 0 of domain ai.onnx")]
    [InlineData("ai.onnx.ml", 6, "opset 6 of domain ai.onnx.ml is not one ONNX Runtime runs (it knows ai.onnx.ml opsets 1 to 5)")]
    public void Inspect_OpsetNewerThanOnnxRuntimeRuns_GivesExitCode2(string domain, long opset, string expected)
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("m.onnx"), OnnxWriter.ToBytes(HostileFiles.WithOpset(domain, opset)));

        var r = CliRunner.Run("inspect", dir.File("m.onnx"));

        CliRunner.AssertBadInput(r, expected);
    }

    [Fact]
    public void Convert_RefusesAFutureOpsetUnlessAllowed()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("m.onnx"), OnnxWriter.ToBytes(HostileFiles.WithOpset("", 99)));

        CliRunner.AssertBadInput(CliRunner.Run("convert", dir.File("m.onnx"), "--out", dir.File("out.onnx")), "opset");
        Assert.False(File.Exists(dir.File("out.onnx")));

        var r = CliRunner.Run("convert", dir.File("m.onnx"), "--out", dir.File("out.onnx"), "--allow-invalid");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("warning: ONNX Runtime cannot load", r.Err);
        Assert.Equal(99, OnnxReader.Read(dir.File("out.onnx")).DefaultOpset);
    }

    [Fact]
    public void Bench_WithAHugeBatch_IsRefusedBeforeAllocating()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        CliRunner.Result? r = null;

        var bytes = Allocated(() => r = CliRunner.Run("bench", model, "--batch", "100000000"));

        CliRunner.AssertBadInput(r!, "at batch size 100000000, input 'input' of '" + model + "' would be [100000000,1,28,28] Single: 313,600,000,000 bytes (292.06 GiB), more than the 2 GiB Shrink allocates for one input; use a smaller batch size");
        Assert.True(bytes < 64 * OneMiB, $"allocated {bytes:N0} bytes");
    }

    [Fact]
    public void Bench_WithAHugeDim_IsRefusedWithoutOverflow()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");

        var r = CliRunner.Run("bench", model, "--batch", "1", "--dim", "N=9223372036854775807");

        CliRunner.AssertBadInput(r, "would be [9223372036854775807,1,28,28] Single: 28,924,494,707,576,576,930,752 bytes");
        Assert.Contains("use a smaller batch size or smaller --dim sizes", r.Err);
    }

    [Fact]
    public void OnnxRuntimeWarnings_DoNotReachRedirectedStderr()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("m.onnx"), OnnxWriter.ToBytes(HostileFiles.UnusedInitializer()));
        var cli = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "Shrink.Cli.exe" : "Shrink.Cli");
        var psi = new ProcessStartInfo(cli) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "convert", dir.File("m.onnx"), "--out", dir.File("out.onnx") }) psi.ArgumentList.Add(arg);
        psi.Environment.Remove("SHRINK_DEBUG");

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();

        Assert.Equal(0, p.ExitCode);
        Assert.DoesNotContain("onnxruntime", stderr.Result);
        Assert.DoesNotContain("\u001b[", stderr.Result);
    }
}
