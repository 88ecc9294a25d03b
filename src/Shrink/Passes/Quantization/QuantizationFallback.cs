using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Techniques;

namespace Shrink.Passes.Quantization;

/// <summary>How much one layer alone costs: the output cosine of the model with only that layer quantized.</summary>
public sealed record LayerSensitivity(string Layer, string OpType, double Cosine);

/// <summary>
/// What the automatic fallback of static quantization found (<see cref="QuantizeOptions.MinFidelity"/>): the output
/// cosine to the float model on the calibration samples before it (every layer quantized) and after, the layers it
/// kept in float (most sensitive first) and the sensitivity of every layer it measured (empty when none was needed).
/// </summary>
public sealed record QuantizationFallbackReport(double Target, double CosineAllQuantized, double Cosine, IReadOnlyList<string> KeptInFloat,
    IReadOnlyList<LayerSensitivity> Sensitivity);

/// <summary>
/// The automatic fallback: when the quantized model's output cosine to the float one (the lowest over its outputs, on
/// the calibration samples, in ONNX Runtime) is under the target, every layer is measured alone (the model with only
/// that layer quantized, as ONNX Runtime's per-layer sensitivity does), and the fewest of the most sensitive are kept
/// in float that bring the whole model to the target (found by doubling, then halving, the count). The ranges are the
/// ones calibrated for the whole model; a layer kept in float reads and writes float values.
/// </summary>
public static class QuantizationFallback
{
    /// <summary>The lowest cosine over the outputs of <paramref name="candidate"/> against <paramref name="reference"/> on <paramref name="data"/>.</summary>
    public static double Cosine(Model reference, Model candidate, Data.IDataSource data, RunnerOptions? runner = null) =>
        Fidelity.Measure(reference, candidate, data, runner).Min(o => o.Cosine);

    /// <summary>
    /// The export of <paramref name="prepared"/> that reaches <paramref name="target"/> with the fewest layers kept in
    /// float, and what was found; an <see cref="OptionsException"/> when even the best try stays under it.
    /// </summary>
    public static (QuantizeResult Result, QuantizationFallbackReport Report) Run(PreparedQuantization prepared, CalibratedRanges ranges,
        CalibrationSet samples, double target, TechniqueSession? session = null, RunnerOptions? runner = null)
    {
        var calibrated = new Dictionary<string, (double Min, double Max)>(ranges.Ranges);
        QuantizeResult Try(IEnumerable<string> floatLayers, TechniqueSession? notes = null) => Export(prepared, ranges, calibrated, floatLayers, samples, notes, runner);
        var full = Quantizer.Export(prepared, ranges, session: session);
        var first = Cosine(prepared.Folded, full.Model, samples.Source, runner);
        if (first >= target) return (full, new QuantizationFallbackReport(target, first, first, Array.Empty<string>(), Array.Empty<LayerSensitivity>()));

        var layers = prepared.Plan().ComputeLayers; // MatMuls of two activations too
        session?.Note($"output cosine {first:F4} is under {target:F4}: measuring each of {layers.Count} layers alone");
        var sensitivity = layers.Select(l => new LayerSensitivity(l.Name, l.OpType,
            Cosine(prepared.Folded, Try(layers.Where(o => o != l).Select(o => o.Name)).Model, samples.Source, runner)))
            .OrderBy(s => s.Cosine).ToList();
        (QuantizeResult Result, double Cosine) Keep(int count)
        {
            var result = Try(sensitivity.Take(count).Select(s => s.Layer), session);
            return (result, Cosine(prepared.Folded, result.Model, samples.Source, runner));
        }
        // Doubling until the target is met (at most every layer but one in float), then halving down to the fewest.
        var (low, high) = (0, 1);
        var best = Keep(high);
        while (best.Cosine < target && high < layers.Count - 1)
        {
            (low, high) = (high, Math.Min(2 * high, layers.Count - 1));
            best = Keep(high);
        }
        if (best.Cosine < target)
            throw OptionsException.For(nameof(QuantizeOptions.MinFidelity), $"is {target:F4}, but static quantization reaches output cosine {best.Cosine:F4} at best " +
                $"(every layer but one kept in float; {first:F4} with all quantized); lower it, calibrate on more or other samples, or try another calibration method");
        while (high - low > 1)
        {
            var mid = (low + high) / 2;
            var tried = Keep(mid);
            if (tried.Cosine >= target) (high, best) = (mid, tried);
            else low = mid;
        }
        var kept = sensitivity.Take(high).Select(s => s.Layer).ToList();
        return (best.Result, new QuantizationFallbackReport(target, first, best.Cosine, kept, sensitivity));
    }

    /// <summary>
    /// The export with <paramref name="floatLayers"/> kept in float besides the options' own exclusions; a tensor that only
    /// this plan quantizes (a layer's neighbour now in float) is calibrated here, once, into <paramref name="calibrated"/>.
    /// </summary>
    private static QuantizeResult Export(PreparedQuantization prepared, CalibratedRanges ranges, Dictionary<string, (double Min, double Max)> calibrated,
        IEnumerable<string> floatLayers, CalibrationSet samples, TechniqueSession? session, RunnerOptions? runner)
    {
        var options = prepared.Options with { Exclude = prepared.Options.Exclude.Concat(floatLayers).Distinct().ToList() };
        var variant = new PreparedQuantization(prepared.Folded, options, prepared.Notes);
        var missing = variant.Plan().CalibrationValues.Where(v => !calibrated.ContainsKey(v)).ToList();
        if (missing.Count > 0)
            foreach (var (name, range) in Calibrator.Collect(prepared.Folded, missing, samples, options.Calibration, options.Percentile, runner))
                calibrated[name] = range;
        return Quantizer.Export(variant, ranges with { Ranges = calibrated }, session: session);
    }
}
