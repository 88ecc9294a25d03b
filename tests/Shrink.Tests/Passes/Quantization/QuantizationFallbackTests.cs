using Shrink.Data;
using Shrink.Data.Sources;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Quantization;
using Shrink.TestSupport;
using Xunit;

namespace Shrink.Tests.Passes.Quantization;

/// <summary>
/// The tensor fallback of static quantization (<see cref="FallbackUnit.Tensor"/>), the float tensors of the static plan
/// (<see cref="QuantizeOptions.FloatTensors"/>) and entropy calibration as ONNX Runtime's <c>quantize_static</c> collects it.
/// </summary>
public class QuantizationFallbackTests
{
    private static IDataSource Images => NpzSource.Open(TestModels.TorchFile("quant_fmnist.npz"));

    private static readonly QuantizeOptions PerChannel = new() { PerChannel = true, CalibrationSamples = 32 };

    /// <summary>
    /// The corpus's mobilenet_v3_small with BatchNorm statistics from real images (cosine about 0.9 with everything in int8): both
    /// fallbacks reach 0.99 on the calibration samples, and the tensor fallback keeps fewer layers' weights in float, and fewer
    /// things in all (weights and activation tensors), than the layer fallback, in a smaller file, the result measuring
    /// what its report says: the cosine on the 16 samples it chose on and on the 16 it held out, both at the target (it
    /// used to be measured on all 32, before the fallback held any out).
    /// </summary>
    [Fact]
    public void TheTensorFallbackReachesTheTargetKeepingLessInFloatThanTheLayerFallback()
    {
        var model = OnnxReader.Read(Corpus.ModelPath("mobilenet_v3_small", "realbn"));
        var calibration = CalibrationSet.From(Images, 32);
        var options = PerChannel with { MinFidelity = 0.99 };
        var tensor = Quantizer.Static(model, calibration, options);
        var layer = Quantizer.Static(model, calibration, options with { FallbackUnit = FallbackUnit.Layer });
        var (t, l) = (tensor.Fallback!, layer.Fallback!);
        Assert.Equal((FallbackUnit.Tensor, FallbackUnit.Layer), (t.Unit, l.Unit));
        Assert.True(t.CosineAllQuantized < 0.99 && t.Cosine >= 0.99 && l.Cosine >= 0.99, $"{t.CosineAllQuantized} → {t.Cosine}, layers {l.Cosine}");
        Assert.True(t.HeldOutLowerBound >= 0.99 && l.HeldOutLowerBound >= 0.99, $"held out: tensor {t.HeldOutLowerBound}, layer {l.HeldOutLowerBound}");
        Assert.True(t.HeldOutCosine > t.HeldOutLowerBound, $"{t.HeldOutCosine} ≤ its bound {t.HeldOutLowerBound}");
        var (choice, heldOut) = QuantizationFallback.Split(calibration, 0.5);
        Assert.Equal((16, 16), (t.ChoiceSamples, t.HeldOutSamples));
        Assert.Equal(t.Cosine, QuantizationFallback.Cosine(model, tensor.Model, choice), 6);
        var held = Shrink.Evaluation.Fidelity.Measure(model, tensor.Model, heldOut!);
        Assert.Equal(t.HeldOutCosine!.Value, held.Min(o => o.Cosine), 6);
        Assert.Equal(t.HeldOutLowerBound!.Value, held.Min(o => o.CosineLowerBound(QuantizationFallback.HoldOutZ, o.Samples)), 6);
        Assert.True(t.KeptInFloat.Count < l.KeptInFloat.Count, $"tensor: {t.KeptInFloat.Count} layers, layer: {l.KeptInFloat.Count}");
        // In all, fewer things at higher precision (layers' weights and activation tensors), and a smaller file.
        Assert.True(t.KeptInFloat.Count + t.FloatActivations.Count < l.KeptInFloat.Count + l.FloatActivations.Count,
            $"tensor: {t.KeptInFloat.Count} + {t.FloatActivations.Count}, layer: {l.KeptInFloat.Count} + {l.FloatActivations.Count}");
        Assert.True(OnnxWriter.ToBytes(tensor.Model).Length < OnnxWriter.ToBytes(layer.Model).Length);
        Assert.NotEmpty(t.KeptTensors);
        Assert.Subset(t.FloatActivations.ToHashSet(), t.KeptTensors.ToHashSet());
        // Every tensor kept in float has no QuantizeLinear reading it; ranked by the cosine each loses alone, most first.
        foreach (var name in t.KeptTensors)
            Assert.DoesNotContain(tensor.Model.Graph.Nodes, n => n.OpType == "QuantizeLinear" && n.Inputs[0]!.Name == name);
        Assert.True(t.TensorSensitivity.Zip(t.TensorSensitivity.Skip(1)).All(p => p.First.Loss >= p.Second.Loss));
        Assert.Equal(t.Tensors, t.TensorSensitivity.Count(s => !s.Weights));
    }

    /// <summary>
    /// A tensor kept in float by name: no Q/DQ on it, the ReLU6 (Clip) whose output it is stays in the graph, the layers on
    /// both sides keep int8 weights behind DequantizeLinear, the reading layer's bias stays float (there is no input scale
    /// for an int32 bias), and with reduce range on, only the layers ONNX Runtime runs as integer kernels get 7-bit weights.
    /// </summary>
    [Fact]
    public void AFloatTensorLosesItsQdqWhileTheLayersAroundItKeepQuantizedWeights()
    {
        var model = OnnxReader.Read(TestModels.TorchPath("quant_mobilenet"));
        var options = PerChannel with { ReduceRange = ReduceRange.On };
        var prepared = Quantizer.Prepare(model, options);
        var name = prepared.Plan().CalibrationValues.First(n => n.EndsWith("Clip_output_0"));
        var clip = prepared.Folded.Graph.FindValue(name)!.Producer!;
        var (writer, reader) = (clip.Inputs[0]!.Producer!.Name, prepared.Folded.Graph.FindValue(name)!.Uses.Single().Node.Name);
        var result = Quantizer.Static(model, CalibrationSet.From(Images, 32), options with { FloatTensors = new[] { name } });
        var graph = result.Model.Graph;
        Assert.DoesNotContain(graph.Nodes, n => n.OpType == "QuantizeLinear" && (n.Inputs[0]!.Name == name || n.Inputs[0] == graph.FindNode(writer)!.Outputs[0]));
        Assert.Equal("Clip", graph.FindValue(name)!.Producer!.OpType);
        foreach (var layer in new[] { writer, reader })
            Assert.Equal("DequantizeLinear", graph.FindNode(layer)!.Inputs[1]!.Producer!.OpType);
        Assert.Null(graph.FindNode(reader)!.Inputs[2]!.Producer);
        int MaxLevel(string layer) => graph.FindNode(layer)!.Inputs[1]!.Producer!.Inputs[0]!.Const!.RawData.Max(b => Math.Abs((int)(sbyte)b));
        Assert.True(MaxLevel(writer) > 64 && MaxLevel(reader) > 64, $"{MaxLevel(writer)}, {MaxLevel(reader)}");
        var integer = graph.Nodes.First(n => n.OpType == "Conv" && n.Name != writer && n.Name != reader);
        Assert.InRange(MaxLevel(integer.Name), 1, 64);
        Assert.Equal(result.Stats["quantize-static.tensors"] + 1, Quantizer.Static(model, CalibrationSet.From(Images, 32), options).Stats["quantize-static.tensors"]);
    }

    [Fact]
    public void AFloatTensorTheModelDoesNotHoldIsRefusedNamingTheProperty()
    {
        var model = OnnxReader.Read(TestModels.TorchPath("quant_mobilenet"));
        var e = Assert.Throws<OptionsException>(() => Quantizer.Prepare(model, PerChannel with { FloatTensors = new[] { "no_such_tensor" } }));
        Assert.Equal(nameof(QuantizeOptions.FloatTensors), e.Option);
        Assert.Contains("'no_such_tensor'", e.Message);
    }

    /// <summary>The summary names the first five kept in float and counts the rest; at detailed verbosity it names every one.</summary>
    [Fact]
    public void TheFallbackNoteNamesAFewAndEveryOneWhenDetailed()
    {
        var names = Enumerable.Range(0, 8).Select(i => $"t{i}").ToList();
        var report = new QuantizationFallbackReport(0.99, 0.8, 0.9912, new[] { "conv1" }, Array.Empty<LayerSensitivity>())
        {
            Unit = FallbackUnit.Tensor, KeptTensors = names, Tensors = 40, Layers = 20, FloatActivations = names, FloatComputeLayers = new[] { "a", "b", "c" },
        };
        var normal = Quantizer.FallbackNote(report, NotesLevel.Normal);
        Assert.Equal("output cosine 0.8000 with everything quantized, 0.9912 on the calibration samples (target 0.9900) with 8 of 40 activation tensors and the weights of " +
            "1 of 20 layers kept in float (8 activation tensors float in all) (3 layers with quantized weights read or write a float tensor, so run float kernels); " +
            "tensors: 't0', 't1', 't2', 't3', 't4' and 3 more (all of them at detailed verbosity); layers: 'conv1'", normal);
        var detailed = Quantizer.FallbackNote(report, NotesLevel.Detailed);
        Assert.Contains("tensors: 't0', 't1', 't2', 't3', 't4', 't5', 't6', 't7'; layers: 'conv1'", detailed);
    }

    /// <summary>
    /// With samples held out the note gives the held-out figure first, with its lower bound, then the one on the samples
    /// chosen on, and how many units were kept in float for the held-out ones; with none held out (FallbackHoldOut 0) it is
    /// the calibration samples' figure.
    /// </summary>
    [Fact]
    public void TheFallbackNoteSaysWhatItsFigureWasMeasuredOn()
    {
        var report = new QuantizationFallbackReport(0.99, 0.8, 0.9925, new[] { "conv1" }, Array.Empty<LayerSensitivity>())
        {
            Unit = FallbackUnit.Tensor, KeptTensors = new[] { "t0", "t1" }, Tensors = 40, Layers = 20, FloatActivations = new[] { "t0", "t1" },
            ChoiceSamples = 64, HeldOutSamples = 64, HeldOutCosine = 0.9931, HeldOutLowerBound = 0.9912, AddedForHeldOut = 2,
        };
        Assert.StartsWith("output cosine 0.8000 with everything quantized, 0.9931 on 64 held-out calibration samples (95 % bound for as many other inputs 0.9912; 0.9925 on the other 64; target 0.9900) with " +
            "2 of 40 activation tensors and the weights of 1 of 20 layers kept in float (2 of them for the held-out samples) (2 activation tensors float in all)",
            Quantizer.FallbackNote(report, NotesLevel.Normal));
        var none = report with { KeptInFloat = Array.Empty<string>(), KeptTensors = Array.Empty<string>(), AddedForHeldOut = 0 };
        Assert.Equal("output cosine 0.9931 on 64 held-out calibration samples (95 % bound for as many other inputs 0.9912; 0.9925 on the other 64; target 0.9900): every layer quantized",
            Quantizer.FallbackNote(none, NotesLevel.Normal));
        Assert.Equal("output cosine 0.9925 on the calibration samples (target 0.9900): every layer quantized",
            Quantizer.FallbackNote(none with { HeldOutCosine = null, HeldOutLowerBound = null, HeldOutSamples = 0, ChoiceSamples = 128 }, NotesLevel.Normal));
    }

    /// <summary>
    /// FallbackHoldOut 0 chooses and reports on every calibration sample (nothing held out), as the fallback did before it
    /// held any out; a fraction outside [0, 1) is refused naming the property.
    /// </summary>
    [Fact]
    public void WithNothingHeldOutTheFallbackChoosesAndReportsOnEverySample()
    {
        var model = OnnxReader.Read(TestModels.TorchPath("quant_mobilenet"));
        var calibration = CalibrationSet.From(Images, 32);
        var plain = Quantizer.Static(model, calibration, PerChannel);
        var before = QuantizationFallback.Cosine(model, plain.Model, calibration.Source);
        var target = Math.Min(0.9995, 1 - (1 - before) / 4);
        var result = Quantizer.Static(model, calibration, PerChannel with { MinFidelity = target, FallbackHoldOut = 0 });
        var report = result.Fallback!;
        Assert.Equal((32, 0, (double?)null, (double?)null, 0), (report.ChoiceSamples, report.HeldOutSamples, report.HeldOutCosine, report.HeldOutLowerBound, report.AddedForHeldOut));
        Assert.Equal(before, report.CosineAllQuantized, 6);
        Assert.True(report.Cosine >= target);
        Assert.Equal(report.Cosine, QuantizationFallback.Cosine(model, result.Model, calibration.Source), 6);
        Assert.Contains(result.Notes, n => n.Contains(" on the calibration samples (target "));
        foreach (var fraction in new[] { -0.1, 1.0, double.NaN })
            Assert.Equal(nameof(QuantizeOptions.FallbackHoldOut), Assert.Throws<OptionsException>(() => (PerChannel with { FallbackHoldOut = fraction }).Validate()).Option);
    }

    /// <summary>
    /// ONNX Runtime's <c>get_entropy_threshold</c> on known histograms of 512 bins over [−1, 1] (a bell of width σ and five
    /// outliers in the last bin): the windows below are what a numpy restatement of that function gives for the same counts.
    /// </summary>
    [Theory]
    [InlineData(0.05, -0.3046875, 0.30859375)]
    [InlineData(0.1, -0.609375, 0.61328125)]
    [InlineData(0.2, -1.0, 1.0)]
    public void EntropyWindowIsOnnxRuntimesOnAKnownHistogram(double sigma, double low, double high)
    {
        var h = new long[512];
        for (var k = 0; k < h.Length; k++)
        {
            var x = (k + 0.5) / 256 - 1;
            h[k] = (long)Math.Round(1000 * Math.Exp(-x * x / (2 * sigma * sigma)));
        }
        h[^1] += 5;
        var (l, u) = Calibrator.EntropyWindow(h, 1.0);
        Assert.Equal(low, l, 12);
        Assert.Equal(high, u, 12);
    }

    /// <summary>
    /// quantize_static collects every calibration sample before it builds the histograms: one histogram of 128 bins over
    /// [−max|x|, max|x|], whose one 128-bin window is the whole range, so ONNX Runtime's entropy ranges are the observed
    /// ones. Shrink's are the same over two batches of 64 (merging batch by batch used to narrow 14 of 64 tensors of this
    /// model, as ONNX Runtime would only if fed one batch per collect_data call).
    /// </summary>
    [Fact]
    public void EntropyOverSeveralBatchesIsOneHistogramOfAllTheSamples()
    {
        var model = Quantizer.Prepare(OnnxReader.Read(TestModels.TorchPath("quant_mobilenet")), PerChannel).Folded;
        var values = new QuantizeStaticPass(PerChannel.ToPassOptions()).Plan(model).CalibrationValues;
        var samples = CalibrationSet.From(Images, 128);
        Assert.Equal(Calibrator.Collect(model, values, samples, CalibrationMethod.MinMax), Calibrator.Collect(model, values, samples, CalibrationMethod.Entropy));
        var h = new long[128];
        Calibrator.FillSigned(h, new[] { -2f, -0.01f, 0f, 0.01f, 1.99f, 2f }, 2.0);
        Assert.Equal((1, 1, 2, 2), (h[0], h[63], h[64], h[127])); // numpy.histogram's bins: 0 in the upper middle one, the limit in the last
    }
}
