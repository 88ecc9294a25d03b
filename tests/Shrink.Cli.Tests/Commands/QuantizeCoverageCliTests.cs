using System.Text.Json;
using Shrink.Ir;
using Shrink.Onnx;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>
/// The quantize flags of ONNX Runtime's quantizer options (issue 16): --op-types, --matmul-const-b-only,
/// --activation-symmetric, --reduce-range in dynamic mode and Conv as ConvInteger there; each happy path, and each bad
/// input as one line naming the flag, exit 2, nothing written.
/// </summary>
public class QuantizeCoverageCliTests
{
    private static string Flat(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ");

    private static string[] Args(TempDirectory dir, string model, params string[] extra) =>
        new[] { "quantize", model, "--data", "embedded", "--calib-samples", "32", "--bench-batch", "none", "--out", dir.File("q.onnx") }.Concat(extra).ToArray();

    private static JsonElement Stats(CliRunner.Result r) => JsonDocument.Parse(r.Out).RootElement.GetProperty("stats");

    [Fact]
    public void DynamicModeQuantizesConvAsConvIntegerAndOpTypesSelects()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var r = CliRunner.Run(Args(dir, model, "--mode", "dynamic", "--per-channel"));
        Assert.True(r.ExitCode == 0, r.Err);
        var q = OnnxReader.Read(dir.File("q.onnx"));
        var convs = q.Graph.Nodes.Where(n => n.OpType == "ConvInteger").ToList();
        Assert.Equal(2, convs.Count);
        Assert.DoesNotContain(q.Graph.Nodes, n => n.OpType == "Conv");
        Assert.All(convs, c => Assert.Equal(DataType.Int8, c.Inputs[1]!.Const!.DataType));
        Assert.Contains("in 4 layers (2 Conv as ConvInteger, 2 MatMul/Gemm)", Flat(r.Out));

        var gemmOnly = CliRunner.Run(Args(dir, model, "--mode", "dynamic", "--op-types", "Gemm", "--json"));
        Assert.True(gemmOnly.ExitCode == 0, gemmOnly.Err);
        Assert.Equal(2, Stats(gemmOnly).GetProperty("quantize-dynamic.layers").GetInt64());
        Assert.False(Stats(gemmOnly).TryGetProperty("quantize-dynamic.conv-layers", out _));
        Assert.Equal(2, OnnxReader.Read(dir.File("q.onnx")).Graph.Nodes.Count(n => n.OpType == "Conv"));
    }

    [Fact]
    public void StaticOpTypesKeepsTheOthersFloatAndSaysWhy()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var r = CliRunner.Run(Args(dir, model, "--op-types", "Conv,Relu,MaxPool", "--json"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Equal(2, Stats(r).GetProperty("quantize-static.layers").GetInt64());
        var q = OnnxReader.Read(dir.File("q.onnx"));
        Assert.All(q.Graph.Nodes.Where(n => n.OpType == "Gemm"), g => Assert.NotNull(g.Inputs[1]!.Const)); // float weights, no DequantizeLinear
        var notes = JsonDocument.Parse(r.Out).RootElement.GetProperty("notes").EnumerateArray().Select(n => n.GetString()!).ToList();
        Assert.Contains(notes, n => n == "2 of 4 compute layers stay float: 2 Gemm layers, an op type not in --op-types ('gemm1', 'gemm2')");
    }

    [Fact]
    public void MatMulConstBOnlyLeavesTheAttentionMatMulsOfTheVisionTransformerFloat()
    {
        using var dir = new TempDirectory();
        string[] Vit(params string[] extra) => new[] { "quantize", Corpus.ModelPath("vit", "realbn"), "--calib-data", TestModels.TorchFile("quant_fmnist.npz"),
            "--calib-samples", "32", "--per-channel", "--bench-batch", "none", "--out", dir.File("q.onnx"), "--json" }.Concat(extra).ToArray();
        var all = CliRunner.Run(Vit());
        Assert.True(all.ExitCode == 0, all.Err);
        Assert.Equal(4, Stats(all).GetProperty("quantize-static.activation-matmuls").GetInt64());
        var constB = CliRunner.Run(Vit("--matmul-const-b-only"));
        Assert.True(constB.ExitCode == 0, constB.Err);
        Assert.False(Stats(constB).TryGetProperty("quantize-static.activation-matmuls", out _));
        Assert.Contains("4 of 14 compute layers stay float: 4 MatMuls of two activations (--matmul-const-b-only on)", constB.Out);
    }

    [Fact]
    public void ActivationSymmetricPutsUint8ZeroPointsAt128()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var r = CliRunner.Run(Args(dir, model, "--activation-symmetric"));
        Assert.True(r.ExitCode == 0, r.Err);
        var zeros = OnnxReader.Read(dir.File("q.onnx")).Graph.Nodes.Where(n => n.OpType == "QuantizeLinear").Select(n => n.Inputs[2]!.Const!).ToList();
        Assert.NotEmpty(zeros);
        Assert.All(zeros, z => Assert.Equal((DataType.UInt8, (byte)128), (z.DataType, z.RawData[0])));
    }

    [Fact]
    public void ReduceRangeOnKeepsDynamicWeightsInSevenBits()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var r = CliRunner.Run(Args(dir, model, "--mode", "dynamic", "--reduce-range", "on"));
        Assert.True(r.ExitCode == 0, r.Err);
        var weights = OnnxReader.Read(dir.File("q.onnx")).Graph.Nodes.Where(n => n.OpType is "ConvInteger" or "MatMulInteger").Select(n => n.Inputs[1]!.Const!).ToList();
        Assert.Equal(4, weights.Count);
        Assert.All(weights, w => Assert.InRange(w.RawData.Max(b => Math.Abs((int)(sbyte)b)), 60, 64));
        Assert.Contains("int8 weights use 7 bits (levels ±64; --reduce-range on)", Flat(r.Out));
    }

    [Fact]
    public void BadCoverageFlagsAreOneLineAndWriteNothing()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, model, "--mode", "dynamic", "--op-types", "Conv,Softmax")),
            "--op-types names 'Softmax', which dynamic quantization cannot quantize; it quantizes Conv, Gather, Gemm, MatMul");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, model, "--op-types", "conv")), "--op-types names 'conv', which static quantization cannot quantize; it quantizes Add,");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, model, "--op-types", ",")), "--op-types names no op type");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, model, "--mode", "dynamic", "--matmul-const-b-only", "false")), "--matmul-const-b-only cannot be false in dynamic mode");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, model, "--mode", "dynamic", "--activation-symmetric")), "--activation-symmetric does not apply to dynamic mode");
        CliRunner.AssertBadInput(CliRunner.Run(Args(dir, model, "--activations", "float", "--activation-symmetric")), "--activation-symmetric does not apply to float activations");
        Assert.False(File.Exists(dir.File("q.onnx")));
    }
}
