using Shrink.Ir;
using Shrink.Onnx;
using Shrink.TestSupport;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>shrink convert --precision: half-precision weights, the fidelity to the float model, the refusals, the saved recipe.</summary>
public class ConvertPrecisionTests
{
    [Theory]
    [InlineData("fp16", DataType.Float16, 0.9999)]
    [InlineData("bf16", DataType.BFloat16, 0.999)]
    public void HalfPrecisionHalvesTheWeightsAndPrintsTheFidelity(string precision, DataType type, double minCosine)
    {
        using var dir = new TempDirectory();
        var model = TestModels.TorchPath("mobilenet_tiny");
        var r = CliRunner.Run("convert", model, "--precision", precision, "--bench-batch", "none", "--out", dir.File("h.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Out);
        var (before, after) = (doc.RootElement.GetProperty("before"), doc.RootElement.GetProperty("after"));
        Assert.InRange((double)after.GetProperty("packedBytes").GetInt64() / before.GetProperty("packedBytes").GetInt64(), 0.45, 0.55);
        Assert.True(after.GetProperty("fidelity")[0].GetProperty("cosine").GetDouble() > minCosine);
        var written = OnnxReader.Read(dir.File("h.onnx"));
        Assert.Contains(written.Graph.Initializers, v => v.Const!.DataType == type);
        Assert.Equal(DataType.Float, written.Graph.Outputs[0].ElementType);
    }

    [Fact]
    public void ComputeInHalfSaysWhatStaysFloat()
    {
        using var dir = new TempDirectory();
        var r = CliRunner.Run("convert", TestModels.TorchPath("resnet_tiny"), "--precision", "fp16", "--compute", "--out", dir.File("h.onnx"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("computing in float16", r.Out);
        Assert.Contains("kept in float32", r.Out);
        Assert.Contains("cosine similarity to before", r.Out);
        Assert.Contains("p50 latency", r.Out);
    }

    [Fact]
    public void BadInputIsOneLineAndWritesNothing()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5");
        string[] Args(params string[] extra) => new[] { "convert", model, "--out", dir.File("bad.onnx") }.Concat(extra).ToArray();
        CliRunner.AssertBadInput(CliRunner.Run(Args("--precision", "fp8")), "--precision 'fp8' must be fp16 or bf16");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--precision", "fp16", "--keep-io-types", "false")), "--keep-io-types can be false only when computing in half precision");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--compute")), "--compute needs --precision fp16 or bf16");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--precision", "fp16", "--allow-invalid")), "--allow-invalid");
        Assert.False(File.Exists(dir.File("bad.onnx")));
    }

    [Fact]
    public void TheSavedRecipeMakesTheSameModel()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        var args = new[] { "convert", model, "--precision", "fp16", "--bench-batch", "none", "--out", dir.File("h.onnx") };
        CliRunner.AssertRecipeReplays(dir, args, dir.File("h.onnx"), "convert-precision");
    }
}
