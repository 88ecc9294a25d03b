using System.Text.Json;
using Shrink.Data;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

[Collection("torch")]
public class TrainCliTests
{
    private static void AssertBadInput(CliRunner.Result r, string expected) => CliRunner.AssertBadInput(r, expected);

    [Fact]
    public void TrainWritesAModelWhoseOnnxRuntimeAccuracyIsTheExecutors()
    {
        using var dir = new TempDirectory();
        var r = CliRunner.Run("train", "--model", "lenet300", "--data", "embedded", "--epochs", "1", "--limit", "2000",
            "--batch", "64", "--out", dir.File("m.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var executor = doc.RootElement.GetProperty("executorAccuracy").GetDouble();
        var ort = doc.RootElement.GetProperty("onnxRuntimeAccuracy").GetDouble();
        Assert.InRange(executor, 0.45, 1.0); // chance is 0.10
        Assert.Equal(executor, ort, 3);
        Assert.True(File.Exists(dir.File("m.run/checkpoint.bin")));
        Assert.True(File.Exists(dir.File("m.run/metrics.json")));

        // The same run again is refused; with --resume it has nothing left to do and writes the same model.
        AssertBadInput(CliRunner.Run("train", "--model", "lenet300", "--data", "embedded", "--epochs", "1", "--limit", "2000",
            "--batch", "64", "--out", dir.File("m.onnx")), "--resume");
        var again = CliRunner.Run("train", "--model", "lenet300", "--data", "embedded", "--epochs", "1", "--limit", "2000",
            "--batch", "64", "--out", dir.File("m2.onnx"), "--run-dir", dir.File("m.run"), "--resume", "--json");
        Assert.True(again.ExitCode == 0, again.Err);
        // The first run's model, byte for byte (the run directory's copy is rewritten by the second run, so it proves nothing).
        Assert.Equal(File.ReadAllBytes(dir.File("m.onnx")), File.ReadAllBytes(dir.File("m2.onnx")));
    }

    [Fact]
    public void TrainsAPyTorchExportWithAShapeChain()
    {
        using var dir = new TempDirectory();
        var r = CliRunner.Run("train", "--model", TestModels.TorchFile("lenet_fmnist.onnx"), "--data", "embedded", "--epochs", "1",
            "--limit", "1000", "--batch", "50", "--lr", "0.02", "--out", dir.File("t.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(doc.RootElement.GetProperty("executorAccuracy").GetDouble(), doc.RootElement.GetProperty("onnxRuntimeAccuracy").GetDouble(), 3);
        Assert.Contains(Shrink.Onnx.OnnxReader.Read(dir.File("t.onnx")).Graph.Nodes, n => n.OpType == "Shape");
    }

    [Fact]
    public void AModelForOtherDataIsRefused()
    {
        using var dir = new TempDirectory();
        AssertBadInput(CliRunner.Run("train", "--model", TestModels.TorchFile("resnet_tiny.onnx"), "--data", "embedded", "--epochs", "1",
            "--out", dir.File("t.onnx")), "takes float32[batch,3,32,32] but Fashion-MNIST test (embedded subset) gives samples of image: float32[1,28,28]; give data of the model's input shape");
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Theory]
    [InlineData("--epochs", "0", "--epochs must be at least 1")]
    [InlineData("--lr", "-1", "--lr must be positive")]
    [InlineData("--batch", "0", "--batch must be at least 1, got 0")]  // the library names BatchSize; the CLI prints its flag
    [InlineData("--warmup", "5", "--warmup must be in [0, epochs), got 5")]
    [InlineData("--optimizer", "rmsprop", "unknown optimizer 'rmsprop'")]
    [InlineData("--schedule", "linear", "unknown --schedule 'linear'")]
    [InlineData("--momentum", "1.5", "--momentum must be in [0, 1)")]
    [InlineData("--label-smoothing", "1", "--label-smoothing must be in [0, 1)")]
    [InlineData("--model", "alexnet", "neither a zoo model")]
    [InlineData("--resume", "true", "no checkpoint at")]
    public void BadTrainOptionsGetOneLineAndWriteNothing(string option, string value, string expected)
    {
        using var dir = new TempDirectory();
        var args = new List<string> { "train", "--model", "lenet300", "--data", "embedded", "--epochs", "1", "--out", dir.File("m.onnx") };
        var at = args.IndexOf(option);
        if (at >= 0) args[at + 1] = value;
        else if (value == "true") args.Add(option);
        else args.AddRange(new[] { option, value });
        AssertBadInput(CliRunner.Run(args.ToArray()), expected);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void RunWithTorchEngineMatchesOnnxRuntime()
    {
        using var dir = new TempDirectory();
        var model = TestModels.TorchFile("shufflenet_tiny.onnx");
        var input = TestModels.TorchFile("shufflenet_tiny.input.npy");
        var ort = CliRunner.Run("run", model, "--input", input, "--out", dir.File("ort.npy"));
        var torchRun = CliRunner.Run("run", model, "--input", input, "--out", dir.File("torch.npy"), "--engine", "torch");
        Assert.True(ort.ExitCode == 0, ort.Err);
        Assert.True(torchRun.ExitCode == 0, torchRun.Err);
        Parity.AssertClose(NpyFile.Read(dir.File("ort.npy")).ToFloat32(), NpyFile.Read(dir.File("torch.npy")).ToFloat32(), "shufflenet_tiny");
    }

    [Fact]
    public void RunWithTorchEngineRejectsAWrongShape()
    {
        using var dir = new TempDirectory();
        var zoo = CliRunner.Zoo(dir, "lenet300", "m.onnx");
        var wrong = dir.File("x.npy");
        NpyFile.Write(wrong, new NpyArray(NpyDType.Float32, new long[] { 2, 3, 28, 28 }, new byte[2 * 3 * 28 * 28 * 4]));
        AssertBadInput(CliRunner.Run("run", zoo, "--input", wrong, "--out", dir.File("y.npy"), "--engine", "torch"), "expects");
        Assert.False(File.Exists(dir.File("y.npy")));
    }
}
