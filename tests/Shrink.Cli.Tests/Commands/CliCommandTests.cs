using System.Text.Json;
using Shrink.Data;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>The commands' successful paths: help, zoo, inspect, convert, run, eval, bench.</summary>
public class CliCommandTests
{
    [Fact]
    public void HelpListsEveryCommand()
    {
        var r = CliRunner.Run("--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var c in new[] { "inspect", "zoo", "eval", "bench", "run", "convert", "train", "prune", "sensitivity", "quantize", "distill", "cluster", "pack", "unpack", "factorize", "recipe" })
            Assert.Contains(c, r.Out);
        Assert.Contains("--vs", CliRunner.Run("bench", "--help").Out);
    }

    [Fact]
    public void ZooThenInspectJson()
    {
        using var dir = new TempDirectory();
        Assert.Equal(0, CliRunner.Run("zoo", "lenet5", "--out", dir.File("m.onnx"), "--seed", "3").ExitCode);
        var r = CliRunner.Run("inspect", dir.File("m.onnx"), "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        var summary = doc.RootElement.GetProperty("summary");
        Assert.Equal(431_080, summary.GetProperty("parameters").GetInt64());
        Assert.Equal(2_293_000, summary.GetProperty("macs").GetInt64());
        Assert.Equal(4, doc.RootElement.GetProperty("layers").GetArrayLength());
    }

    [Fact]
    public void ConvertKeepsEveryByteOfAPyTorchModel()
    {
        using var dir = new TempDirectory();
        var input = TestModels.TorchFile("squeezenet_tiny.onnx");
        Assert.Equal(0, CliRunner.Run("convert", input, "--out", dir.File("c.onnx")).ExitCode);
        var a = Shrink.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(input));
        var b = Shrink.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(dir.File("c.onnx")));
        Assert.Equal(a, b);
    }

    [Fact]
    public void ConvertWithExternalDataRunsTheSame()
    {
        using var dir = new TempDirectory();
        var input = TestModels.TorchFile("lenet_fmnist.onnx");
        Assert.Equal(0, CliRunner.Run("convert", input, "--out", dir.File("e.onnx"), "--external-data").ExitCode);
        Assert.True(File.Exists(Shrink.Onnx.ExternalDataFiles.Referenced(dir.File("e.onnx")).Single()));
        Assert.True(new FileInfo(dir.File("e.onnx")).Length < 20_000);
        Assert.Equal(0, CliRunner.Run("run", dir.File("e.onnx"), "--input", TestModels.TorchFile("lenet_fmnist.input.npy"), "--out", dir.File("y.npy")).ExitCode);
        AssertClose(NpyFile.Read(TestModels.TorchFile("lenet_fmnist.output.npy")).ToFloat32(), NpyFile.Read(dir.File("y.npy")).ToFloat32(), 1e-4f);
    }

    [Fact]
    public void RunMatchesPyTorchReference()
    {
        using var dir = new TempDirectory();
        var r = CliRunner.Run("run", TestModels.TorchFile("transformer_tiny.onnx"), "--input", "input=" + TestModels.TorchFile("transformer_tiny.input.npy"), "--out", dir.File("y.npy"));
        Assert.Equal(0, r.ExitCode);
        var y = NpyFile.Read(dir.File("y.npy"));
        Assert.Equal(new long[] { 2, 10 }, y.Shape);
        AssertClose(NpyFile.Read(TestModels.TorchFile("transformer_tiny.output.npy")).ToFloat32(), y.ToFloat32(), 1e-4f);
    }

    [Fact]
    public void EvalOnEmbeddedSubsetJson()
    {
        using var dir = new TempDirectory();
        CliRunner.Run("zoo", "lenet300", "--out", dir.File("m.onnx"));
        var r = CliRunner.Run("eval", dir.File("m.onnx"), "--data", "embedded", "--limit", "300", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(300, doc.RootElement.GetProperty("samples").GetInt32());
        Assert.InRange(doc.RootElement.GetProperty("accuracy").GetDouble(), 0, 1);
    }

    [Fact]
    public void BenchAgainstAnotherModelJson()
    {
        using var dir = new TempDirectory();
        CliRunner.Run("zoo", "lenet300", "--out", dir.File("a.onnx"));
        CliRunner.Run("zoo", "lenet5", "--out", dir.File("b.onnx"));
        var r = CliRunner.Run("bench", dir.File("a.onnx"), "--vs", dir.File("b.onnx"), "--batch", "1,4", "--runs", "3", "--warmup", "1", "--threads", "1", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(4, doc.RootElement.GetProperty("rows").GetArrayLength());
        var comparison = doc.RootElement.GetProperty("comparison");
        Assert.Equal(2, comparison.GetArrayLength());
        // lenet300 has 0.27M MACs per sample, lenet5 2.29M: at batch 4 the interleaved runs tell them apart.
        Assert.Equal("Faster", comparison[1].GetProperty("verdict").GetString());
    }

    [Fact]
    public void BenchOfAModelAgainstItsCopy_SaysWithinNoise()
    {
        using var dir = new TempDirectory();
        CliRunner.Run("zoo", "lenet5", "--out", dir.File("a.onnx"));
        File.Copy(dir.File("a.onnx"), dir.File("b.onnx"));
        var r = CliRunner.Run("bench", dir.File("a.onnx"), "--vs", dir.File("b.onnx"), "--batch", "8", "--runs", "100", "--warmup", "10", "--threads", "1");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("is NOT faster: within noise", r.Out);
        Assert.DoesNotContain("x faster", r.Out);
    }

    [Fact]
    public void BenchProfilesTimePerOperatorType()
    {
        using var dir = new TempDirectory();
        CliRunner.Run("zoo", "lenet5", "--out", dir.File("a.onnx"));
        var r = CliRunner.Run("bench", dir.File("a.onnx"), "--batch", "2", "--runs", "3", "--warmup", "1", "--threads", "1", "--profile", "2", "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var ops = doc.RootElement.GetProperty("profiles")[0].GetProperty("ops").EnumerateArray().ToList();
        // lenet5: two convolutions and two Gemm layers, under whatever names ONNX Runtime's fusions gave them.
        Assert.Equal(2, ops.Where(o => o.GetProperty("opType").GetString()!.Contains("Conv")).Sum(o => o.GetProperty("nodes").GetInt32()));
        Assert.Equal(2, ops.Where(o => o.GetProperty("opType").GetString()!.Contains("Gemm")).Sum(o => o.GetProperty("nodes").GetInt32()));
        Assert.InRange(ops.Sum(o => o.GetProperty("share").GetDouble()), 0.999, 1.001);
        Assert.All(ops, o => Assert.True(o.GetProperty("msPerRun").GetDouble() >= 0));
        Assert.DoesNotContain(Directory.GetFiles(Path.GetTempPath()), f => Path.GetFileName(f).StartsWith($"shrink-profile-{Environment.ProcessId}")); // the trace is deleted
        CliRunner.AssertBadInput(CliRunner.Run("bench", dir.File("a.onnx"), "--profile", "0"), "--profile 0 is out of range");
    }

    private static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"element {i}: expected {expected[i]}, got {actual[i]} (tolerance {tolerance})");
    }
}
