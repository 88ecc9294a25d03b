using Shrink.Data;
using Shrink.Data.Sources;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes.Quantization;
using Shrink.TestSupport;
using Xunit;

namespace Shrink.Tests.Passes.Quantization;

/// <summary>
/// Static int8 on the torchvision exports of tests/data/torch/make_quant_models.py, where it used to fail (issue 16):
/// each failure is a regression case, measured as output fidelity to the float model in ONNX Runtime on Fashion-MNIST
/// test images (quant_fmnist.npz).
/// </summary>
public class RealGraphQuantizationTests
{
    private static Model Load(string name) => OnnxReader.Read(TestModels.TorchPath(name));

    private static IDataSource Images => NpzSource.Open(TestModels.TorchFile("quant_fmnist.npz"));

    private static CalibrationSet Calibration => CalibrationSet.From(Images, 128);

    private static OutputFidelity Fidelity(Model reference, Model quantized) => Shrink.Evaluation.Fidelity.Measure(reference, quantized, Images).Single();

    private static readonly QuantizeOptions PerChannel = new() { PerChannel = true, CalibrationSamples = 128 };

    /// <summary>
    /// Fire modules whose graph output (flatten of the pooled, ReLU'd classifier conv) is quantized: QuantizeLinear used to
    /// read its own DequantizeLinear ("graph 'torch_jit' has a cycle through node 'logits_QuantizeLinear'").
    /// </summary>
    [Fact]
    public void FireModulesWithAQuantizedGraphOutputHaveNoCycle()
    {
        var model = Load("quant_squeeze");
        var result = Quantizer.Static(model, Calibration, PerChannel);
        result.Model.Graph.TopologicalOrder(); // throws on a cycle
        var q = result.Model.Graph.Nodes.Single(n => n.OpType == "QuantizeLinear" && n.Name.StartsWith("logits"));
        Assert.Equal("DequantizeLinear", result.Model.Graph.Outputs.Single().Producer!.OpType);
        Assert.NotEqual("DequantizeLinear", q.Inputs[0]!.Producer?.OpType);
        Assert.True(Fidelity(model, result.Model).Cosine > 0.99);
    }

    /// <summary>
    /// GoogLeNet's initialisation leaves activations of about 1e-7 before the classifier, whose bias is about 0.1: at input
    /// scale × weight scale that bias is ~1e15 in int32 and used to saturate to ~1e-9, so every output collapsed to zero
    /// (cosine −0.5 in the issue). The bias now stays float, with a note, and the output follows the float model.
    /// </summary>
    [Fact]
    public void ABiasThatWouldOverflowInt32StaysFloatInsteadOfCollapsingTheOutput()
    {
        var model = Load("quant_inception");
        var result = Quantizer.Static(model, Calibration, PerChannel);
        var fc = result.Model.Graph.Nodes.Single(n => n.OpType == "Gemm");
        Assert.Equal(DataType.Float, fc.Inputs[2]!.Const?.DataType ?? fc.Inputs[2]!.ElementType);
        Assert.Null(fc.Inputs[2]!.Producer); // a float initializer, no DequantizeLinear of int32
        Assert.Contains(result.Notes, n => n.StartsWith("the bias of 1 layer stays float ('/fc/Gemm')"));
        var fidelity = Fidelity(model, result.Model);
        Assert.True(fidelity.Cosine > 0.999, fidelity.ToString());
        Assert.Equal(1.0, fidelity.Top1Agreement);
        // The convolutions' biases, of their own scale, are still int32.
        Assert.Contains(result.Model.Graph.Nodes, n => n.OpType == "Conv" && n.Inputs.ElementAtOrDefault(2)?.Producer is { OpType: "DequantizeLinear" });
    }

    /// <summary>
    /// ONNX Runtime's entropy calibrator on a known histogram: a bell of counts over [−1, 1] with a few far outliers at the
    /// right end picks a window that clips the outliers and keeps the bell, clipped to the observed range on each side.
    /// </summary>
    [Fact]
    public void EntropyWindowClipsFarOutliersAndKeepsTheBulk()
    {
        var h = new long[2048];
        for (var k = 0; k < 2048; k++)
        {
            var x = (k + 0.5) / 1024 - 1; // bin centre in [−1, 1]
            h[k] = (long)Math.Round(10000 * Math.Exp(-x * x / (2 * 0.05 * 0.05)));
        }
        h[2047] += 3; // outliers at the limit
        var (low, high) = Calibrator.EntropyWindow(h, 1.0);
        Assert.InRange(high, 0.1, 0.5); // well inside the limit, wider than 2σ
        Assert.InRange(low, -0.5, -0.1);
        Assert.True(Math.Abs(high + low) <= 2.0 / 1024 + 1e-12, $"({low}, {high})"); // (−i·w, (i + 1)·w): symmetric to one bin
    }

    /// <summary>
    /// MinFidelity: the fewest most sensitive layers kept in float reach the target, are listed most sensitive first, and
    /// the model reaches it when measured again; a target already met keeps every layer quantized.
    /// </summary>
    [Fact]
    public void MinFidelityKeepsTheFewestLayersInFloatToReachIt()
    {
        var model = Load("quant_mobilenet");
        var plain = Quantizer.Static(model, Calibration, PerChannel);
        var before = QuantizationFallback.Cosine(model, plain.Model, Calibration.Source);
        var target = Math.Min(0.9995, 1 - (1 - before) / 4); // a quarter of the loss
        var result = Quantizer.Static(model, Calibration, PerChannel with { MinFidelity = target });
        var report = result.Fallback!;
        Assert.Equal(before, report.CosineAllQuantized, 6);
        Assert.NotEmpty(report.KeptInFloat);
        Assert.True(report.Cosine >= target);
        Assert.Equal(report.Cosine, QuantizationFallback.Cosine(model, result.Model, Calibration.Source), 6);
        Assert.Equal(report.Sensitivity.Take(report.KeptInFloat.Count).Select(s => s.Layer), report.KeptInFloat);
        Assert.True(report.Sensitivity.Zip(report.Sensitivity.Skip(1)).All(p => p.First.Cosine <= p.Second.Cosine));
        foreach (var layer in report.KeptInFloat) // kept in float: its weight is no DequantizeLinear's output
            Assert.Null(result.Model.Graph.FindNode(layer)!.Inputs[1]!.Producer);
        Assert.Contains(result.Notes, n => n.Contains($"with {report.KeptInFloat.Count} kept in float"));
        var met = Quantizer.Static(model, Calibration, PerChannel with { MinFidelity = Math.Max(0.01, before - 0.01) });
        Assert.Empty(met.Fallback!.KeptInFloat);
        Assert.Equal(OnnxWriter.ToBytes(plain.Model), OnnxWriter.ToBytes(met.Model));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.5)]
    public void MinFidelityOutsideZeroToOneIsRefusedNamingTheProperty(double value)
    {
        var e = Assert.Throws<OptionsException>(() => (PerChannel with { MinFidelity = value }).Validate());
        Assert.Equal(nameof(QuantizeOptions.MinFidelity), e.Option);
    }
}
