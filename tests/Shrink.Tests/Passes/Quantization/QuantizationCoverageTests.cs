using Shrink.Data;
using Shrink.Data.Sources;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes.Quantization;
using Shrink.TestSupport;
using Xunit;

namespace Shrink.Tests.Passes.Quantization;

/// <summary>
/// Quantization the way ONNX Runtime's quantizer covers real graphs (issue 16): the corpus's vision transformer (attention's
/// MatMuls of two activations, Softmax's fixed range, MatMulConstBOnly, the fallback to 0.99), Conv as ConvInteger in dynamic
/// mode, OpTypes, and symmetric activations. Fidelity is measured in ONNX Runtime on Fashion-MNIST images (quant_fmnist.npz);
/// 8-bit weights take 7 bits (ReduceRange on), which every CPU's integer kernels compute exactly, so the bands hold anywhere.
/// </summary>
public class QuantizationCoverageTests
{
    private static IDataSource Images => NpzSource.Open(TestModels.TorchFile("quant_fmnist.npz"));

    private static CalibrationSet Calibration => CalibrationSet.From(Images, 128);

    private static Model Vit => OnnxReader.Read(Corpus.ModelPath("vit", "realbn"));

    private static readonly QuantizeOptions PerChannel = new() { PerChannel = true, CalibrationSamples = 128, ReduceRange = ReduceRange.On };

    private static double Cosine(Model reference, Model candidate) => QuantizationFallback.Cosine(reference, candidate, Images);

    /// <summary>
    /// Static int8 of the vision transformer quantizes all 14 compute layers: the 10 with weights and attention's Q·Kᵀ and
    /// attention·V of both blocks, each input behind DequantizeLinear; the Softmax output read by attention·V takes ONNX
    /// Runtime's fixed range [0, 1] (uint8 scale 1/255, zero point 0); LayerNormalization and the Erf GELU stay float.
    /// </summary>
    [Fact]
    public void VisionTransformerQuantizesAttentionMatMulsWithSoftmaxOnAFixedGrid()
    {
        var model = Vit;
        var result = Quantizer.Static(model, Calibration, PerChannel);
        Assert.Equal(10, result.Stats["quantize-static.layers"]);
        Assert.Equal(4, result.Stats["quantize-static.activation-matmuls"]);
        var graph = result.Model.Graph;
        var attention = graph.Nodes.Where(n => n.OpType == "MatMul" && n.Inputs.All(i => i!.Producer is { OpType: "DequantizeLinear" })
            && n.Inputs.All(i => i!.Producer!.Inputs[0]!.Producer?.OpType == "QuantizeLinear")).ToList();
        Assert.Equal(4, attention.Count);
        var softmaxQ = graph.Nodes.Where(n => n.OpType == "QuantizeLinear" && n.Inputs[0]!.Producer?.OpType == "Softmax").ToList();
        Assert.Equal(2, softmaxQ.Count);
        Assert.All(softmaxQ, q => Assert.Equal((1f / 255, (byte)0), (q.Inputs[1]!.Const!.AsFloats()[0], q.Inputs[2]!.Const!.RawData[0])));
        // LayerNormalization computes in float on its float scale and bias (it reads the requantized residual stream); the GELU's Div and Erf in float.
        Assert.All(graph.Nodes.Where(n => n.OpType == "LayerNormalization"), n => Assert.All(n.Inputs.Skip(1), i => Assert.Equal(DataType.Float, i!.Const!.DataType)));
        Assert.All(graph.Nodes.Where(n => n.OpType == "Erf"), n => Assert.Equal("Div", n.Inputs[0]!.Producer!.OpType));
        Assert.DoesNotContain(result.Notes, n => n.Contains("compute layers stay float"));
        Assert.InRange(Cosine(model, result.Model), 0.90, 0.97); // 0.936: the residual stream's per-tensor grid is too coarse for the class token
    }

    /// <summary>
    /// With MinFidelity 0.99 the layer fallback keeps the fewest most sensitive layers in float (2: the patch embedding and
    /// the first block's output projection) and reaches it; every compute layer is quantized or listed as kept in float. The
    /// tensor fallback reaches it too, with every layer's weights quantized but those it lists.
    /// </summary>
    [Fact]
    public void VisionTransformerReaches099WithTheFallbackAndAccountsForEveryComputeLayer()
    {
        var model = Vit;
        foreach (var unit in new[] { FallbackUnit.Layer, FallbackUnit.Tensor })
        {
            var result = Quantizer.Static(model, Calibration, PerChannel with { MinFidelity = 0.99, FallbackUnit = unit });
            var report = result.Fallback!;
            Assert.True(report.Cosine >= 0.99, $"{unit}: {report.Cosine}");
            Assert.Equal(unit, report.Unit);
            if (unit == FallbackUnit.Layer) Assert.InRange(report.KeptInFloat.Count, 1, 3);
            Assert.Equal(14, unit == FallbackUnit.Layer ? report.Sensitivity.Count : report.Layers);
            var quantized = result.Stats["quantize-static.layers"] + result.Stats.GetValueOrDefault("quantize-static.activation-matmuls");
            Assert.Equal(14, quantized + report.KeptInFloat.Count);
            Assert.True(Cosine(model, result.Model) >= 0.99);
        }
    }

    [Fact]
    public void MatMulConstBOnlyLeavesTheMatMulsOfTwoActivationsFloatAndSaysSo()
    {
        var result = Quantizer.Static(Vit, Calibration, PerChannel with { MatMulConstBOnly = true });
        Assert.False(result.Stats.ContainsKey("quantize-static.activation-matmuls"));
        Assert.Contains(result.Notes, n => n.StartsWith("4 of 14 compute layers stay float: 4 MatMuls of two activations (mat mul const b only on)"));
        Assert.DoesNotContain(result.Model.Graph.Nodes, n => n.OpType == "MatMul" && n.Inputs[0]!.Producer?.OpType == "DequantizeLinear"
            && n.Inputs[1]!.Producer?.Inputs[0]!.Producer?.OpType == "QuantizeLinear");
        var e = Assert.Throws<OptionsException>(() => (PerChannel with { Mode = QuantizeMode.Dynamic, MatMulConstBOnly = false }).Validate());
        Assert.Equal(nameof(QuantizeOptions.MatMulConstBOnly), e.Option);
    }

    /// <summary>
    /// Dynamic mode on resnet18 (realistic BatchNorm): every Conv becomes DynamicQuantizeLinear → ConvInteger (int8 weights,
    /// one zero point 0) → Cast → Mul, as ONNX Runtime's quantize_dynamic writes it, and the output keeps cosine ≥ 0.97; with
    /// OpTypes MatMul and Gemm only the Convs stay as they were.
    /// </summary>
    [Fact]
    public void DynamicModeQuantizesConvAsConvInteger()
    {
        var model = OnnxReader.Read(Corpus.ModelPath("resnet18", "realbn"));
        var convs = model.Graph.Nodes.Count(n => n.OpType == "Conv");
        var result = Quantizer.Dynamic(model, PerChannel with { Mode = QuantizeMode.Dynamic });
        var integer = result.Model.Graph.Nodes.Where(n => n.OpType == "ConvInteger").ToList();
        Assert.Equal(convs, integer.Count);
        Assert.Equal(convs, result.Stats["quantize-dynamic.conv-layers"]);
        Assert.All(integer, c => Assert.Equal(("DynamicQuantizeLinear", DataType.Int8, 0), (c.Inputs[0]!.Producer!.OpType, c.Inputs[1]!.Const!.DataType, c.Inputs[3]!.Const!.Dims.Length)));
        Assert.All(integer, c => Assert.InRange(c.Inputs[1]!.Const!.RawData.Max(b => Math.Abs((int)(sbyte)b)), 1, 64)); // ReduceRange on
        Assert.InRange(Cosine(model, result.Model), 0.97, 1.0);
        var full = Quantizer.Dynamic(model, PerChannel with { Mode = QuantizeMode.Dynamic, ReduceRange = ReduceRange.Auto });
        Assert.All(full.Model.Graph.Nodes.Where(n => n.OpType == "ConvInteger"), c => Assert.Equal(127, c.Inputs[1]!.Const!.RawData.Max(b => Math.Abs((int)(sbyte)b))));
        var matmulOnly = Quantizer.Dynamic(model, PerChannel with { Mode = QuantizeMode.Dynamic, OpTypes = new[] { "MatMul", "Gemm" } });
        Assert.Equal(convs, matmulOnly.Model.Graph.Nodes.Count(n => n.OpType == "Conv"));
        Assert.DoesNotContain(matmulOnly.Model.Graph.Nodes, n => n.OpType == "ConvInteger");
    }

    /// <summary>
    /// Dynamic mode on a PyTorch-exported BERT-style encoder: the word and position embedding tables become int8 (one scale
    /// each, zero point 0), gathered as integers and dequantized after the Gather, as quantize_dynamic's GatherQuant writes
    /// them; every MatMul with a weight is MatMulInteger. The tables take a byte per entry instead of four and the output
    /// keeps cosine ≥ 0.999 on random token ids in ONNX Runtime; with OpTypes MatMul the tables stay float.
    /// </summary>
    [Fact]
    public void DynamicModeQuantizesEmbeddingTablesAsGatherThenDequantize()
    {
        var model = OnnxReader.Read(TestModels.TorchPath("encoder_small"));
        var tables = model.Graph.Nodes.Where(n => n.OpType == "Gather" && n.Inputs[0]!.Const is { DataType: DataType.Float }).Select(n => n.Inputs[0]!.Name).ToList();
        Assert.Equal(2, tables.Count);
        var result = Quantizer.Dynamic(model, new QuantizeOptions { Mode = QuantizeMode.Dynamic });
        Assert.Equal(2, result.Stats["quantize-dynamic.tables"]);
        var gathers = result.Model.Graph.Nodes.Where(n => n.OpType == "Gather" && n.Inputs[0]!.Const is not null).ToList();
        Assert.Equal(2, gathers.Count);
        Assert.All(gathers, g => Assert.Equal((DataType.Int8, "DequantizeLinear", 1), (g.Inputs[0]!.Const!.DataType, g.Outputs[0]!.Uses.Single().Node.OpType, g.Outputs[0]!.Uses.Count)));
        Assert.All(gathers, g => Assert.Equal(127, g.Inputs[0]!.Const!.RawData.Max(b => Math.Abs((int)(sbyte)b))));
        Assert.DoesNotContain(result.Model.Graph.Initializers, v => tables.Contains(v.Name));
        var matmulOnly = Quantizer.Dynamic(model, new QuantizeOptions { Mode = QuantizeMode.Dynamic, OpTypes = new[] { "MatMul" } });
        Assert.Equal(2, matmulOnly.Model.Graph.Nodes.Count(n => n.OpType == "Gather" && n.Inputs[0]!.Const is { DataType: DataType.Float }));
        var tableElements = model.Graph.Initializers.Where(v => tables.Contains(v.Name)).Sum(v => v.Const!.ElementCount);
        Assert.InRange(OnnxWriter.ToBytes(matmulOnly.Model).Length - OnnxWriter.ToBytes(result.Model).Length, 3 * tableElements - 1000, 3 * tableElements);   // 4 bytes → 1 per entry
        var sized = new Shrink.Runtime.RunnerOptions { DimValues = new Dictionary<string, long> { ["sequence"] = 16 } };
        using var a = Shrink.Runtime.OnnxRunner.FromModel(model, sized);
        using var b = Shrink.Runtime.OnnxRunner.FromModel(result.Model, sized);
        var inputs = a.RandomInputs(4, seed: 1);   // token ids over the vocabulary of 100
        var (x, y) = ((float[])a.Run(inputs)[0].Data, (float[])b.Run(inputs)[0].Data);
        var cosine = x.Zip(y).Sum(p => (double)p.First * p.Second) / Math.Sqrt(x.Sum(v => (double)v * v) * y.Sum(v => (double)v * v));
        Assert.InRange(cosine, 0.999, 1.0);
    }

    [Theory]
    [InlineData(QuantizeMode.Dynamic, "Softmax", "names 'Softmax', which dynamic quantization cannot quantize; it quantizes Conv, Gather, Gemm, MatMul")]
    [InlineData(QuantizeMode.Static, "Erf", "names 'Erf', which static quantization cannot quantize; it quantizes Add, ")]
    public void AnOpTypeTheModeCannotQuantizeIsRefusedNamingTheOnesItCan(QuantizeMode mode, string opType, string message)
    {
        var e = Assert.Throws<OptionsException>(() => new QuantizeOptions { Mode = mode, OpTypes = new[] { "MatMul", opType } }.Validate());
        Assert.Equal(nameof(QuantizeOptions.OpTypes), e.Option);
        Assert.Contains(message, e.Message);
        Assert.Equal(nameof(QuantizeOptions.OpTypes), Assert.Throws<OptionsException>(() => new QuantizeOptions { OpTypes = Array.Empty<string>() }.Validate()).Option);
    }

    /// <summary>ONNX Runtime's compute_scale_zp for each pairing of element type and symmetry, on the range [−1, 3].</summary>
    [Theory]
    [InlineData(DataType.UInt8, false, 4.0 / 255, 64)]   // asymmetric uint8: round(1 / (4/255)) = 64
    [InlineData(DataType.UInt8, true, 6.0 / 255, 128)]   // symmetric uint8 (ActivationSymmetric): ±3 around 128
    [InlineData(DataType.Int8, true, 3.0 / 127, 0)]      // symmetric int8
    [InlineData(DataType.Int8, false, 4.0 / 255, -64)]   // asymmetric int8: −128 + 64
    public void ActivationParametersFollowOnnxRuntime(DataType type, bool symmetric, double scale, int zero)
    {
        var p = QuantParams.ForRange(-1, 3, type, symmetric);
        Assert.Equal((float)scale, p.Scale, 6);
        Assert.Equal(zero, p.ZeroPoint);
        Assert.Equal(QuantParams.ForRange(-1, 3, type), QuantParams.ForRange(-1, 3, type, symmetric: type == DataType.Int8)); // the defaults
    }

    /// <summary>Symmetric uint8 activations keep the ReLUs (their zero point 128 does not clamp at zero, as ONNX Runtime keeps them then) and zero points at 128.</summary>
    [Fact]
    public void SymmetricUint8ActivationsKeepTheRelusAndCentreTheZeroPoints()
    {
        var model = OnnxReader.Read(Corpus.ModelPath("resnet18", "realbn"));
        var asymmetric = Quantizer.Static(model, Calibration, PerChannel);
        var symmetric = Quantizer.Static(model, Calibration, PerChannel with { ActivationSymmetric = true });
        Assert.True(asymmetric.Stats["quantize-static.activations-removed"] > 0);
        Assert.Equal(0, symmetric.Stats["quantize-static.activations-removed"]);
        Assert.All(symmetric.Model.Graph.Nodes.Where(n => n.OpType == "QuantizeLinear"), q => Assert.Equal(128, q.Inputs[2]!.Const!.RawData[0]));
        Assert.InRange(Cosine(model, symmetric.Model), 0.95, 1.0);
        Assert.Equal(nameof(QuantizeOptions.ActivationSymmetric),
            Assert.Throws<OptionsException>(() => new QuantizeOptions { Mode = QuantizeMode.Dynamic, ActivationSymmetric = true }.Validate()).Option);
    }
}
