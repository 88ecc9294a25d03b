using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Techniques;

namespace Shrink.Passes.Quantization;

/// <summary>How much one layer alone costs: the output cosine of the model with only that layer quantized.</summary>
public sealed record LayerSensitivity(string Layer, string OpType, double Cosine);

/// <summary>
/// How much one unit of the tensor fallback costs alone. An activation tensor: the output cosine of the model with every
/// weight quantized and only that tensor's activations (and those that share its parameters). A layer's weights
/// (<see cref="Weights"/>, <see cref="Tensor"/> naming the layer): the cosine with only that layer's weights quantized and
/// every activation float. <see cref="Loss"/>: what it loses against its baseline (the weights alone, or the float model).
/// </summary>
public sealed record TensorSensitivity(string Tensor, double Cosine)
{
    public bool Weights { get; init; }

    public double Loss { get; init; }
}

/// <summary>
/// What the automatic fallback of static quantization found (<see cref="QuantizeOptions.MinFidelity"/>): the output
/// cosine to the float model on the calibration samples before it (every layer quantized) and after, the layers it
/// kept in float (most sensitive first) and the sensitivity of every layer it measured (empty when none was needed).
/// With <see cref="FallbackUnit.Tensor"/>: the layers whose weights it kept in float, <see cref="KeptTensors"/> and <see cref="TensorSensitivity"/>.
/// </summary>
public sealed record QuantizationFallbackReport(double Target, double CosineAllQuantized, double Cosine, IReadOnlyList<string> KeptInFloat,
    IReadOnlyList<LayerSensitivity> Sensitivity)
{
    /// <summary>The unit the fallback kept in float: <see cref="FallbackUnit.Layer"/> also when the tensor fallback handed over to it.</summary>
    public FallbackUnit Unit { get; init; } = FallbackUnit.Layer;

    /// <summary>The activation tensors kept in float (no Q/DQ), most sensitive first; the layers around them keep quantized weights.</summary>
    public IReadOnlyList<string> KeptTensors { get; init; } = Array.Empty<string>();

    /// <summary>The activation tensors quantized with every one quantized (the units the tensor fallback chooses from).</summary>
    public int Tensors { get; init; }

    /// <summary>The compute layers quantized with every one quantized.</summary>
    public int Layers { get; init; }

    /// <summary>
    /// Layers whose weights stay quantized but whose input or output is a tensor kept in float, so ONNX Runtime runs them
    /// as float kernels on dequantized weights.
    /// </summary>
    public IReadOnlyList<string> FloatComputeLayers { get; init; } = Array.Empty<string>();

    /// <summary>The activation tensors (of <see cref="Tensors"/>) the result leaves in float, kept by name or because the layers around them are.</summary>
    public IReadOnlyList<string> FloatActivations { get; init; } = Array.Empty<string>();

    /// <summary>The output cosine with every weight quantized and every activation float (measured by the tensor fallback), else null.</summary>
    public double? CosineWeightsOnly { get; init; }

    /// <summary>The sensitivity of every activation tensor the tensor fallback measured, lowest cosine first.</summary>
    public IReadOnlyList<TensorSensitivity> TensorSensitivity { get; init; } = Array.Empty<TensorSensitivity>();

    /// <summary>How many quantized models the fallback built and measured.</summary>
    public int Measured { get; init; }
}

/// <summary>
/// The automatic fallback: when the quantized model's output cosine to the float one (the lowest over its outputs, on
/// the calibration samples, in ONNX Runtime) is under the target, it keeps the fewest things in float that bring it
/// there. <see cref="FallbackUnit.Tensor"/>: activation tensors (and layers' weights, when the weights alone miss the
/// target), each measured alone, the most costly kept in float until the target is met (the count found by doubling,
/// then halving), then each kept one, least costly first, quantized again where the target still holds.
/// <see cref="FallbackUnit.Layer"/>: every layer is measured alone (the model with only that layer quantized, as ONNX
/// Runtime's per-layer sensitivity does) and the fewest of the most sensitive are kept in float. The ranges are the
/// ones calibrated for the whole model; a layer kept in float reads and writes float values.
/// </summary>
public static class QuantizationFallback
{
    /// <summary>The lowest cosine over the outputs of <paramref name="candidate"/> against <paramref name="reference"/> on <paramref name="data"/>.</summary>
    public static double Cosine(Model reference, Model candidate, Data.IDataSource data, RunnerOptions? runner = null) =>
        Fidelity.Measure(reference, candidate, data, runner).Min(o => o.Cosine);

    /// <summary>
    /// The export of <paramref name="prepared"/> that reaches <paramref name="target"/> with the fewest things kept in
    /// float (<see cref="QuantizeOptions.FallbackUnit"/>), and what was found; an <see cref="OptionsException"/> when even
    /// the best try stays under it.
    /// </summary>
    public static (QuantizeResult Result, QuantizationFallbackReport Report) Run(PreparedQuantization prepared, CalibratedRanges ranges,
        CalibrationSet samples, double target, TechniqueSession? session = null, RunnerOptions? runner = null)
    {
        using var trials = new Trials(prepared, ranges, samples, session, runner);
        var full = Quantizer.Export(prepared, ranges, session: session);
        var first = trials.Cosine(full.Model);
        var plan = prepared.Plan();
        var counts = (Tensors: plan.CalibrationValues.Count, Layers: plan.ComputeLayers.Count);
        if (first >= target)
            return (full, new QuantizationFallbackReport(target, first, first, Array.Empty<string>(), Array.Empty<LayerSensitivity>())
                { Unit = prepared.Options.FallbackUnit, Tensors = counts.Tensors, Layers = counts.Layers, Measured = trials.Count });
        var (result, report) = prepared.Options.FallbackUnit == FallbackUnit.Tensor ? TensorFallback(trials, plan, first, target) : LayerFallback(trials, plan, first, target);
        var (floatCompute, floatActivations) = Consequences(prepared, report.KeptInFloat, report.KeptTensors, plan.CalibrationValues);
        return (result, report with
        {
            Tensors = counts.Tensors, Layers = counts.Layers, Measured = trials.Count, FloatComputeLayers = floatCompute, FloatActivations = floatActivations,
        });
    }

    /// <summary>
    /// The tensor fallback. Units: every activation tensor and, when the weights alone (every activation float) miss the
    /// target, every layer's weights too. Each unit is measured alone — a tensor as the only quantized activation (every
    /// weight quantized), a layer's weights as the only quantized ones (every activation float) — and ranked by the
    /// cosine it loses against that baseline; the most costly are kept in float until the target is met, then each kept
    /// one, the least costly first, is quantized again where the target still holds.
    /// </summary>
    private static (QuantizeResult Result, QuantizationFallbackReport Report) TensorFallback(Trials trials, QuantizeStaticPass.QuantPlan plan, double first, double target)
    {
        var tensors = plan.CalibrationValues;
        var layers = plan.ComputeLayers.Select(l => l.Name).ToList();
        var weightsOnly = trials.Measure(Array.Empty<string>(), tensors).Cosine;
        var withLayers = weightsOnly < target;
        trials.Note($"output cosine {first:F4} is under {target:F4} ({weightsOnly:F4} with the weights alone quantized): measuring each of {tensors.Count} activation tensors " +
            (withLayers ? $"and {layers.Count} layers' weights alone" : "alone"));
        var sensitivity = tensors.Select(t => new TensorSensitivity(t, trials.Measure(Array.Empty<string>(), tensors.Where(o => o != t)).Cosine) { Loss = weightsOnly })
            .Concat(withLayers ? layers.Select(l => new TensorSensitivity(l, trials.Measure(layers.Where(o => o != l), tensors).Cosine) { Weights = true, Loss = 1 }) : [])
            .Select(s => s with { Loss = s.Loss - s.Cosine }).OrderByDescending(s => s.Loss).ToList();
        (QuantizeResult Result, double Cosine) Keep(IEnumerable<TensorSensitivity> kept)
        {
            var list = kept.ToList();
            return trials.Measure(list.Where(k => k.Weights).Select(k => k.Tensor), list.Where(k => !k.Weights).Select(k => k.Tensor));
        }
        // With the layers' weights among the units, never every layer's: one layer at least keeps quantized weights (with
        // none, static quantization has nothing to quantize — it would be the float model). The first units, in the order of
        // their cost, up to the last layer's.
        var most = withLayers ? sensitivity.FindLastIndex(s => s.Weights) : sensitivity.Count;
        if (most < 1) (sensitivity, most) = (sensitivity.Where(s => !s.Weights).ToList(), sensitivity.Count(s => !s.Weights));   // one layer, the costliest unit: tensors only
        var (count, best) = Fewest(most, k => Keep(sensitivity.Take(k)), target);
        if (best.Cosine < target)
            throw OptionsException.For(nameof(QuantizeOptions.MinFidelity), $"is {target:F4}, but static quantization reaches output cosine {best.Cosine:F4} at best " +
                $"(every activation tensor and layer but one kept in float; {first:F4} with all quantized); lower it, calibrate on more or other samples, or try another calibration method");
        // Then quantize again, least costly first, each kept unit the target does not need.
        var kept = sensitivity.Take(count).ToList();
        for (var i = kept.Count - 1; i >= 0 && kept.Count > 1; i--)
        {
            var without = kept.Where((_, j) => j != i).ToList();
            var tried = Keep(without);
            if (tried.Cosine >= target) (kept, best) = (without, tried);
        }
        var keptTensors = kept.Where(k => !k.Weights).Select(k => k.Tensor).ToList();
        var keptLayers = kept.Where(k => k.Weights).Select(k => k.Tensor).ToList();
        var report = new QuantizationFallbackReport(target, first, best.Cosine, keptLayers, Array.Empty<LayerSensitivity>())
        {
            Unit = FallbackUnit.Tensor, KeptTensors = keptTensors, TensorSensitivity = sensitivity, CosineWeightsOnly = weightsOnly,
        };
        return (best.Result, report);
    }

    /// <summary>The layer fallback: each layer measured alone, the fewest most sensitive kept in float.</summary>
    private static (QuantizeResult Result, QuantizationFallbackReport Report) LayerFallback(Trials trials, QuantizeStaticPass.QuantPlan plan, double first, double target)
    {
        var layers = plan.ComputeLayers; // MatMuls of two activations too
        trials.Note($"output cosine {first:F4} is under {target:F4}: measuring each of {layers.Count} layers alone");
        var sensitivity = layers.Select(l => new LayerSensitivity(l.Name, l.OpType,
            trials.Measure(layers.Where(o => o != l).Select(o => o.Name), Array.Empty<string>()).Cosine)).OrderBy(s => s.Cosine).ToList();
        var (count, best) = Fewest(layers.Count - 1, k => trials.Measure(sensitivity.Take(k).Select(s => s.Layer), Array.Empty<string>()), target);
        if (best.Cosine < target)
            throw OptionsException.For(nameof(QuantizeOptions.MinFidelity), $"is {target:F4}, but static quantization reaches output cosine {best.Cosine:F4} at best " +
                $"(every layer but one kept in float; {first:F4} with all quantized); lower it, calibrate on more or other samples, or try another calibration method");
        var kept = sensitivity.Take(count).Select(s => s.Layer).ToList();
        return (best.Result, new QuantizationFallbackReport(target, first, best.Cosine, kept, sensitivity) { Unit = FallbackUnit.Layer });
    }

    /// <summary>
    /// The fewest of the first <paramref name="most"/> (in the given order) that <paramref name="keep"/> needs for the target:
    /// doubling from 1 until it is met (or <paramref name="most"/> is reached), then halving down; the try at that count.
    /// </summary>
    private static (int Count, (QuantizeResult Result, double Cosine) Best) Fewest(int most, Func<int, (QuantizeResult Result, double Cosine)> keep, double target)
    {
        var (low, high) = (0, 1); // one at least, even where that is every one
        var best = keep(high);
        while (best.Cosine < target && high < most)
        {
            (low, high) = (high, Math.Min(2 * high, most));
            best = keep(high);
        }
        if (best.Cosine < target) return (high, best);
        while (high - low > 1)
        {
            var mid = (low + high) / 2;
            var tried = keep(mid);
            if (tried.Cosine >= target) (high, best) = (mid, tried);
            else low = mid;
        }
        return (high, best);
    }

    /// <summary>
    /// What keeping <paramref name="floatLayers"/> and <paramref name="floatTensors"/> in float leaves: the layers with
    /// quantized weights that read or write a float activation (ONNX Runtime runs them as float kernels on dequantized
    /// weights), and the activation tensors of <paramref name="units"/> (every one quantized with all) no longer quantized.
    /// </summary>
    private static (IReadOnlyList<string> FloatCompute, IReadOnlyList<string> FloatActivations) Consequences(PreparedQuantization prepared,
        IReadOnlyCollection<string> floatLayers, IReadOnlyCollection<string> floatTensors, IReadOnlyList<string> units)
    {
        var variant = new PreparedQuantization(prepared.Folded, prepared.Options with
        {
            Exclude = prepared.Options.Exclude.Concat(floatLayers).Distinct().ToList(),
            FloatTensors = prepared.Options.FloatTensors.Concat(floatTensors).Distinct().ToList(),
        }, prepared.Notes);
        var plan = variant.Plan();
        var quantized = plan.Tensors.ToHashSet();
        var outputs = prepared.Folded.Graph.Outputs.ToHashSet();
        var floatCompute = plan.ComputeLayers.Where(l => !quantized.Contains(l.Inputs[0]!) || !quantized.Contains(l.Outputs[0]!) && !outputs.Contains(l.Outputs[0]!))
            .Select(l => l.Name).ToList();
        var calibrated = plan.CalibrationValues.ToHashSet();
        return (floatCompute, units.Where(u => !calibrated.Contains(u)).ToList());
    }

    /// <summary>
    /// The exports the fallback tries, each measured in ONNX Runtime against the float model (whose session is made once);
    /// a tensor that only a try quantizes (a layer's neighbour now in float) is calibrated there, once.
    /// </summary>
    private sealed class Trials(PreparedQuantization prepared, CalibratedRanges ranges, CalibrationSet samples, TechniqueSession? session, RunnerOptions? runner)
        : IDisposable
    {
        private readonly Dictionary<string, (double Min, double Max)> _calibrated = new(ranges.Ranges);
        private readonly OnnxRunner _reference = OnnxRunner.FromModel(prepared.Folded, runner, "the float model");

        public PreparedQuantization Prepared => prepared;

        /// <summary>Models measured so far.</summary>
        public int Count { get; private set; }

        public void Note(string message) => session?.Note(message);

        public double Cosine(Model candidate)
        {
            Count++;
            using var run = OnnxRunner.FromModel(candidate, runner, "the quantized model");
            return Fidelity.Measure(_reference, run, samples.Source).Min(o => o.Cosine);
        }

        /// <summary>The export with <paramref name="floatLayers"/> and <paramref name="floatTensors"/> kept in float besides the options' own, and its cosine.</summary>
        public (QuantizeResult Result, double Cosine) Measure(IEnumerable<string> floatLayers, IEnumerable<string> floatTensors)
        {
            var options = prepared.Options with
            {
                Exclude = prepared.Options.Exclude.Concat(floatLayers).Distinct().ToList(),
                FloatTensors = prepared.Options.FloatTensors.Concat(floatTensors).Distinct().ToList(),
            };
            var variant = new PreparedQuantization(prepared.Folded, options, prepared.Notes);
            var missing = variant.Plan().CalibrationValues.Where(v => !_calibrated.ContainsKey(v)).ToList();
            if (missing.Count > 0)
                foreach (var (name, range) in Calibrator.Collect(prepared.Folded, missing, samples, options.Calibration, options.Percentile, runner))
                    _calibrated[name] = range;
            var result = Quantizer.Export(variant, ranges with { Ranges = _calibrated }, session: session);
            return (result, Cosine(result.Model));
        }

        public void Dispose() => _reference.Dispose();
    }
}
