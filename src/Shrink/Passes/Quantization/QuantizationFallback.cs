using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Techniques;

namespace Shrink.Passes.Quantization;

/// <summary>
/// The automatic fallback: when the quantized model's output cosine to the float one (the lowest over its outputs, in
/// ONNX Runtime) is under the target, it keeps the fewest things in float that bring it there.
/// <see cref="FallbackUnit.Tensor"/>: activation tensors (and layers' weights, when the weights alone miss the target),
/// each measured alone, the most costly kept in float until the target is met (the count found by doubling, then
/// halving), then each kept one, least costly first, quantized again where the target still holds.
/// <see cref="FallbackUnit.Layer"/>: every layer is measured alone (the model with only that layer quantized, as ONNX
/// Runtime's per-layer sensitivity does) and the fewest of the most sensitive are kept in float. The ranges are the
/// ones calibrated for the whole model; a layer kept in float reads and writes float values.
/// <para>
/// Held out (<see cref="QuantizeOptions.FallbackHoldOut"/>): those choices are measured on part of the calibration
/// samples only, so they fit those samples (a set pruned back until it just meets the target on them is, on other
/// inputs, just under it). The other part confirms the result: the one-sided 95 % prediction bound of its mean cosine
/// for as many other inputs (mean − 1.645 σ √(2/n) over its n per-sample cosines, <see cref="HoldOutZ"/>) must reach
/// the target too, and where it
/// does not, the next most costly units of the same ranking are kept in float too, the fewest that bring it there
/// (doubling, then halving). The held-out samples decide nothing but how far along that one fixed ranking to go, so their
/// figure is what a user can expect on inputs like them — the validation split of early stopping, applied to the fallback.
/// </para>
/// </summary>
public static class QuantizationFallback
{
    /// <summary>The seed of the split of the calibration samples into those the fallback chooses on and those it holds out.</summary>
    public const int HoldOutSeed = 0;

    /// <summary>
    /// The held-out cosine's lower bound lies this many standard errors under its mean (one-sided 95 %, normal
    /// approximation), a prediction bound for as many other inputs as are held out
    /// (<see cref="OutputFidelity.CosineLowerBound"/>): the target is confirmed on that bound, so that it holds on another
    /// set of inputs like the calibration samples, not just on the 64 or so held out (whose mean differs from another
    /// draw's by about √2 standard errors).
    /// </summary>
    public const double HoldOutZ = 1.645;

    /// <summary>The lowest cosine over the outputs of <paramref name="candidate"/> against <paramref name="reference"/> on <paramref name="data"/>.</summary>
    public static double Cosine(Model reference, Model candidate, IDataSource data, RunnerOptions? runner = null) =>
        Fidelity.Measure(reference, candidate, data, runner).Min(o => o.Cosine);

    /// <summary>
    /// The calibration samples the fallback chooses on and those it holds out (null when <paramref name="fraction"/> is 0
    /// or there are fewer than 2): a split seeded by <see cref="HoldOutSeed"/>.
    /// </summary>
    public static (IDataSource Choice, IDataSource? HeldOut) Split(CalibrationSet samples, double fraction) =>
        fraction > 0 && samples.Count >= 2 ? samples.Source.Split(fraction, HoldOutSeed) : (samples.Source, null);

    /// <summary>
    /// The export of <paramref name="prepared"/> that reaches <paramref name="target"/> with the fewest things kept in
    /// float (<see cref="QuantizeOptions.FallbackUnit"/>), on the samples it chooses on and on those it holds out
    /// (<see cref="QuantizeOptions.FallbackHoldOut"/>), and what was found; an <see cref="OptionsException"/> when even
    /// the best try stays under it.
    /// </summary>
    public static (QuantizeResult Result, QuantizationFallbackReport Report) Run(PreparedQuantization prepared, CalibratedRanges ranges,
        CalibrationSet samples, double target, TechniqueSession? session = null, RunnerOptions? runner = null)
    {
        using var trials = new Trials(prepared, ranges, samples, session, runner);
        var full = Quantizer.Export(prepared, ranges, session: session);
        var first = trials.Score(full);
        var plan = prepared.Plan();
        var counts = (Tensors: plan.CalibrationValues.Count, Layers: plan.ComputeLayers.Count);
        if (first.Met(target))
            return (full, new QuantizationFallbackReport(target, first.Cosine, first.Cosine, Array.Empty<string>(), Array.Empty<LayerSensitivity>())
            {
                Unit = prepared.Options.FallbackUnit, Tensors = counts.Tensors, Layers = counts.Layers, Measured = trials.Count,
                ChoiceSamples = trials.ChoiceSamples, HeldOutSamples = trials.HeldOutSamples, HeldOutCosine = first.HeldOut, HeldOutLowerBound = first.HeldOutBound,
            });
        var (result, report) = prepared.Options.FallbackUnit == FallbackUnit.Tensor ? TensorFallback(trials, plan, first, target) : LayerFallback(trials, plan, first, target);
        var (floatCompute, floatActivations) = Consequences(prepared, report.KeptInFloat, report.KeptTensors, plan.CalibrationValues);
        return (result, report with
        {
            Tensors = counts.Tensors, Layers = counts.Layers, Measured = trials.Count, FloatComputeLayers = floatCompute, FloatActivations = floatActivations,
            ChoiceSamples = trials.ChoiceSamples, HeldOutSamples = trials.HeldOutSamples,
        });
    }

    /// <summary>
    /// The tensor fallback. Units: every activation tensor and, when the weights alone (every activation float) miss the
    /// target, every layer's weights too. Each unit is measured alone — a tensor as the only quantized activation (every
    /// weight quantized), a layer's weights as the only quantized ones (every activation float) — and ranked by the
    /// cosine it loses against that baseline; the most costly are kept in float until the target is met, then each kept
    /// one, the least costly first, is quantized again where the target still holds; then confirmed on the held-out samples.
    /// </summary>
    private static (QuantizeResult Result, QuantizationFallbackReport Report) TensorFallback(Trials trials, QuantizeStaticPass.QuantPlan plan, Trial first, double target)
    {
        var tensors = plan.CalibrationValues;
        var layers = plan.ComputeLayers.Select(l => l.Name).ToList();
        // The layers' weights are units too when the weights alone miss the target on either part (held out: its bound).
        var weightsOnlyTrial = trials.Confirm(trials.Measure(Array.Empty<string>(), tensors));
        var (weightsOnly, withLayers) = (weightsOnlyTrial.Cosine, !weightsOnlyTrial.Met(target));
        trials.Note($"output cosine {first.Lowest:F4} is under {target:F4} ({weightsOnly:F4} with the weights alone quantized): measuring each of {tensors.Count} activation tensors " +
            (withLayers ? $"and {layers.Count} layers' weights alone" : "alone") + trials.OnWhat);
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
        const string allButOne = "every activation tensor and layer but one kept in float";
        var (count, best) = Fewest(most, k => Keep(sensitivity.Take(k)), t => t.Cosine >= target);
        if (best.Cosine < target) throw Unreachable(target, best.Cosine, null, allButOne, first.Cosine);
        // Then quantize again, least costly first, each kept unit the target does not need.
        var kept = sensitivity.Take(count).ToList();
        for (var i = kept.Count - 1; i >= 0 && kept.Count > 1; i--)
        {
            var without = kept.Where((_, j) => j != i).ToList();
            var tried = Keep(without);
            if (tried.Cosine >= target) (kept, best) = (without, tried);
        }
        var (final, confirmed, added) = Confirm(trials, sensitivity.Take(most).ToList(), kept, best, Keep, target, allButOne, first.Cosine);
        var report = new QuantizationFallbackReport(target, first.Cosine, confirmed.Cosine, final.Where(k => k.Weights).Select(k => k.Tensor).ToList(), Array.Empty<LayerSensitivity>())
        {
            Unit = FallbackUnit.Tensor, KeptTensors = final.Where(k => !k.Weights).Select(k => k.Tensor).ToList(), TensorSensitivity = sensitivity,
            CosineWeightsOnly = weightsOnly, HeldOutCosine = confirmed.HeldOut, HeldOutLowerBound = confirmed.HeldOutBound, AddedForHeldOut = added,
        };
        return (confirmed.Result, report);
    }

    /// <summary>The layer fallback: each layer measured alone, the fewest most sensitive kept in float; then confirmed on the held-out samples.</summary>
    private static (QuantizeResult Result, QuantizationFallbackReport Report) LayerFallback(Trials trials, QuantizeStaticPass.QuantPlan plan, Trial first, double target)
    {
        var layers = plan.ComputeLayers; // MatMuls of two activations too
        trials.Note($"output cosine {first.Lowest:F4} is under {target:F4}: measuring each of {layers.Count} layers alone" + trials.OnWhat);
        var sensitivity = layers.Select(l => new LayerSensitivity(l.Name, l.OpType,
            trials.Measure(layers.Where(o => o != l).Select(o => o.Name), Array.Empty<string>()).Cosine)).OrderBy(s => s.Cosine).ToList();
        (QuantizeResult Result, double Cosine) Keep(IEnumerable<LayerSensitivity> kept) => trials.Measure(kept.Select(s => s.Layer), Array.Empty<string>());
        const string allButOne = "every layer but one kept in float";
        var (count, best) = Fewest(layers.Count - 1, k => Keep(sensitivity.Take(k)), t => t.Cosine >= target);
        if (best.Cosine < target) throw Unreachable(target, best.Cosine, null, allButOne, first.Cosine);
        var (kept, confirmed, added) = Confirm(trials, sensitivity.Take(layers.Count - 1).ToList(), sensitivity.Take(count).ToList(), best, Keep, target, allButOne, first.Cosine);
        return (confirmed.Result, new QuantizationFallbackReport(target, first.Cosine, confirmed.Cosine, kept.Select(s => s.Layer).ToList(), sensitivity)
            { Unit = FallbackUnit.Layer, HeldOutCosine = confirmed.HeldOut, HeldOutLowerBound = confirmed.HeldOutBound, AddedForHeldOut = added });
    }

    /// <summary>
    /// The result <paramref name="best"/> (keeping <paramref name="kept"/> in float) measured on the held-out samples; where
    /// it is under the target there, the fewest next units of <paramref name="ranked"/> (the most costly first) kept in
    /// float too that bring both parts to it. The units kept (in the ranking's order), the result and how many were added.
    /// </summary>
    private static (List<T> Kept, Trial Best, int Added) Confirm<T>(Trials trials, IReadOnlyList<T> ranked, List<T> kept, (QuantizeResult Result, double Cosine) best,
        Func<IEnumerable<T>, (QuantizeResult Result, double Cosine)> keep, double target, string allButOne, double first)
    {
        var confirmed = trials.Confirm(best);
        if (confirmed.Met(target)) return (kept, confirmed, 0);
        var rest = ranked.Where(u => !kept.Contains(u)).ToList();
        trials.Note($"output cosine {confirmed.HeldOut:F4} on the {trials.HeldOutSamples} held-out calibration samples (95 % bound for as many other inputs {confirmed.HeldOutBound:F4}) is under {target:F4} " +
            $"({confirmed.Cosine:F4} on the {trials.ChoiceSamples} chosen on): keeping the next most costly of {rest.Count} in float too");
        Trial Try(int k) => trials.Confirm(keep(kept.Concat(rest.Take(k))));
        var (count, extended) = rest.Count == 0 ? (0, confirmed) : Fewest(rest.Count, Try, t => t.Met(target));
        if (!extended.Met(target)) throw Unreachable(target, extended.Lowest, trials.HeldOutSamples, allButOne, first);
        var added = rest.Take(count).ToHashSet();
        return (ranked.Where(u => kept.Contains(u) || added.Contains(u)).ToList(), extended, count);
    }

    /// <summary>The refusal when even the best try (<paramref name="allButOne"/>) stays under the target.</summary>
    private static OptionsException Unreachable(double target, double best, int? heldOut, string allButOne, double first) =>
        OptionsException.For(nameof(QuantizeOptions.MinFidelity), $"is {target:F4}, but static quantization reaches output cosine {best:F4} at best" +
            (heldOut is { } n ? $" on the {n} held-out calibration samples (their 95 % bound for as many other inputs)" : "") +
            $" ({allButOne}; {first:F4} with all quantized); lower it, calibrate on more or other samples, or try another calibration method");

    /// <summary>
    /// The fewest of the first <paramref name="most"/> (in the given order) that <paramref name="keep"/> needs to be
    /// <paramref name="met"/>: doubling from 1 until it is met (or <paramref name="most"/> is reached), then halving down;
    /// the try at that count.
    /// </summary>
    private static (int Count, TTry Best) Fewest<TTry>(int most, Func<int, TTry> keep, Func<TTry, bool> met)
    {
        var (low, high) = (0, 1); // one at least, even where that is every one
        var best = keep(high);
        while (!met(best) && high < most)
        {
            (low, high) = (high, Math.Min(2 * high, most));
            best = keep(high);
        }
        if (!met(best)) return (high, best);
        while (high - low > 1)
        {
            var mid = (low + high) / 2;
            var tried = keep(mid);
            if (met(tried)) (high, best) = (mid, tried);
            else low = mid;
        }
        return (high, best);
    }

    /// <summary>A result and its output cosine on the samples the fallback chooses on and on those it holds out (null: none held out).</summary>
    private sealed record Trial(QuantizeResult Result, double Cosine, double? HeldOut, double? HeldOutBound)
    {
        /// <summary>The figure the target is checked on: the lower of the cosine chosen on and the held-out one's lower bound.</summary>
        public double Lowest => Math.Min(Cosine, HeldOutBound ?? Cosine);

        public bool Met(double target) => Lowest >= target;
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
    /// The exports the fallback tries, each measured in ONNX Runtime against the float model (whose session is made once)
    /// on the samples it chooses on, and on request on those it holds out; a tensor that only a try quantizes (a layer's
    /// neighbour now in float) is calibrated there, once, on every calibration sample.
    /// </summary>
    private sealed class Trials : IDisposable
    {
        private readonly PreparedQuantization _prepared;
        private readonly CalibratedRanges _ranges;
        private readonly CalibrationSet _samples;
        private readonly TechniqueSession? _session;
        private readonly RunnerOptions? _runner;
        private readonly IDataSource _choice;
        private readonly IDataSource? _heldOut;
        private readonly Dictionary<string, (double Min, double Max)> _calibrated;
        private readonly OnnxRunner _reference;

        public Trials(PreparedQuantization prepared, CalibratedRanges ranges, CalibrationSet samples, TechniqueSession? session, RunnerOptions? runner)
        {
            (_prepared, _ranges, _samples, _session, _runner) = (prepared, ranges, samples, session, runner);
            (_choice, _heldOut) = Split(samples, prepared.Options.FallbackHoldOut);
            _calibrated = new(ranges.Ranges);
            _reference = OnnxRunner.FromModel(prepared.Folded, runner, "the float model");
        }

        /// <summary>Models measured so far.</summary>
        public int Count { get; private set; }

        public int ChoiceSamples => _choice.Count;

        public int HeldOutSamples => _heldOut?.Count ?? 0;

        /// <summary>What the sensitivities are measured on, for the notes.</summary>
        public string OnWhat => _heldOut is null ? "" : $", on {ChoiceSamples} of the calibration samples ({HeldOutSamples} held out)";

        public void Note(string message) => _session?.Note(message);

        /// <summary>The cosine on the samples the fallback chooses on and on the held-out ones, with one session.</summary>
        public Trial Score(QuantizeResult candidate)
        {
            Count++;
            using var run = OnnxRunner.FromModel(candidate.Model, _runner, "the quantized model");
            return WithHeldOut(candidate, Cosine(run, _choice), run);
        }

        /// <summary>A try measured on the held-out samples too (its cosine and lower bound; null when none is held out).</summary>
        public Trial Confirm((QuantizeResult Result, double Cosine) tried)
        {
            if (_heldOut is null) return new Trial(tried.Result, tried.Cosine, null, null);
            using var run = OnnxRunner.FromModel(tried.Result.Model, _runner, "the quantized model");
            return WithHeldOut(tried.Result, tried.Cosine, run);
        }

        private Trial WithHeldOut(QuantizeResult result, double cosine, OnnxRunner run)
        {
            if (_heldOut is null) return new Trial(result, cosine, null, null);
            var held = Fidelity.Measure(_reference, run, _heldOut);
            return new Trial(result, cosine, held.Min(o => o.Cosine), held.Min(o => o.CosineLowerBound(HoldOutZ, o.Samples)));
        }

        private double Cosine(OnnxRunner run, IDataSource data) => Fidelity.Measure(_reference, run, data).Min(o => o.Cosine);

        /// <summary>The export with <paramref name="floatLayers"/> and <paramref name="floatTensors"/> kept in float besides the options' own, and its cosine on the samples chosen on.</summary>
        public (QuantizeResult Result, double Cosine) Measure(IEnumerable<string> floatLayers, IEnumerable<string> floatTensors)
        {
            var options = _prepared.Options with
            {
                Exclude = _prepared.Options.Exclude.Concat(floatLayers).Distinct().ToList(),
                FloatTensors = _prepared.Options.FloatTensors.Concat(floatTensors).Distinct().ToList(),
            };
            var variant = new PreparedQuantization(_prepared.Folded, options, _prepared.Notes);
            var missing = variant.Plan().CalibrationValues.Where(v => !_calibrated.ContainsKey(v)).ToList();
            if (missing.Count > 0)
                foreach (var (name, range) in Calibrator.Collect(_prepared.Folded, missing, _samples, options.Calibration, options.Percentile, _runner))
                    _calibrated[name] = range;
            var result = Quantizer.Export(variant, _ranges with { Ranges = _calibrated }, session: _session);
            Count++;
            using var run = OnnxRunner.FromModel(result.Model, _runner, "the quantized model");
            return (result, Cosine(run, _choice));
        }

        public void Dispose() => _reference.Dispose();
    }
}
