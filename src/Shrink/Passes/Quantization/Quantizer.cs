using Shrink.Ir;
using Shrink.Passes.Cleanup;
using Shrink.Runtime;
using Shrink.Techniques;

namespace Shrink.Passes.Quantization;

/// <summary>
/// A quantized model, the parameters it holds (the passes' <c>quantization-parameters</c> artifact), how its activation
/// ranges were obtained, notes for the user and the pass counters.
/// </summary>
public sealed record QuantizeResult(Model Model, QuantizationParameters Parameters, CalibratedRanges Calibration, IReadOnlyList<string> Notes,
    IReadOnlyDictionary<string, long> Stats)
{
    /// <summary>What the automatic fallback measured and kept in float (<see cref="QuantizeOptions.MinFidelity"/>), or null when no target was set.</summary>
    public QuantizationFallbackReport? Fallback { get; init; }

    /// <summary>The result as techniques return it: the quantization parameters and, when there are any, the activation ranges.</summary>
    public TechniqueResult ToTechniqueResult() => new(Model,
        Calibration.Ranges.Count == 0 ? new IArtifact[] { Parameters } : new IArtifact[] { Parameters, ActivationRanges.Of(Calibration.Ranges) }, Notes);
}

/// <summary>Activation ranges by the tensor names a plan lists, and how they were obtained.</summary>
public sealed record CalibratedRanges(IReadOnlyDictionary<string, (double Min, double Max)> Ranges, CalibrationMethod? Method, int Samples, bool Observed = false)
{
    /// <summary>No ranges: dynamic or weight-only quantization.</summary>
    public static CalibratedRanges None { get; } = new(new Dictionary<string, (double, double)>(), null, 0);
}

/// <summary>
/// A float model made ready to quantize (<see cref="Quantizer.Prepare"/>): a copy with constants and BatchNorm
/// folded into the layers, checked, with the notes folding wrote. <see cref="Folded"/> is not modified by
/// <see cref="Quantizer.Calibrate"/> or <see cref="Quantizer.Export"/>; treat it as read-only.
/// </summary>
public sealed class PreparedQuantization
{
    internal PreparedQuantization(Model folded, QuantizeOptions options, IReadOnlyList<string> notes)
    {
        Folded = folded;
        Options = options;
        PassOptions = options.ToPassOptions();
        Notes = notes;
    }

    public Model Folded { get; }
    public QuantizeOptions Options { get; }

    /// <summary>The options of the passes, derived from <see cref="Options"/>.</summary>
    public QuantizationOptions PassOptions { get; }

    public IReadOnlyList<string> Notes { get; }

    /// <summary>The static pass with these options and <paramref name="ranges"/> (none: weight-only, or ranges from the pass context).</summary>
    public QuantizeStaticPass StaticPass(CalibratedRanges? ranges = null) => new(PassOptions, ranges is { Ranges.Count: > 0 } r ? r.Ranges : null);

    /// <summary>What static quantization will do: the layers, and the tensors whose ranges calibration collects.</summary>
    public QuantizeStaticPass.QuantPlan Plan() => StaticPass().Plan(Folded);

    /// <summary>Weight name → the scheme the static export quantizes it with (and quantization-aware training trains on).</summary>
    public IReadOnlyDictionary<string, WeightScheme> WeightSchemes() => StaticPass().WeightSchemes(Folded);
}

/// <summary>
/// Quantization from code, each in one call with the defaults of <c>shrink quantize</c> (<see cref="QuantizeOptions"/>):
/// <see cref="Static"/> folds constants and BatchNorm, checks, plans, calibrates the activation ranges in ONNX
/// Runtime and writes the QDQ model; <see cref="Dynamic"/> quantizes Conv, MatMul and Gemm weights for run-time activation
/// quantization; <see cref="WeightOnly"/> quantizes the weights only. The input model is never modified. The steps
/// are public too (<see cref="Prepare"/>, <see cref="Calibrate"/>, <see cref="Export"/>), for quantization-aware
/// training and for callers that calibrate their own way, as ONNX Runtime's quantization API offers its calibrators.
/// </summary>
public static class Quantizer
{
    /// <summary>Static QDQ quantization calibrated on <paramref name="calibration"/> (its first <see cref="QuantizeOptions.CalibrationSamples"/>); none is needed for weight-only.</summary>
    public static QuantizeResult Static(Model model, CalibrationSet? calibration, QuantizeOptions? options = null, TechniqueSession? session = null,
        RunnerOptions? runner = null)
    {
        var prepared = Prepare(model, (options ?? new QuantizeOptions()) with { Mode = QuantizeMode.Static });
        var ranges = Calibrate(prepared, calibration, session, runner);
        if (prepared.Options.MinFidelity is not { } target || !prepared.Options.Calibrates) return Export(prepared, ranges, session: session);
        var (result, report) = QuantizationFallback.Run(prepared, ranges, calibration!.First(prepared.Options.CalibrationSamples), target, session, runner);
        var notes = result.Notes.ToList();
        notes.Add(FallbackNote(report, session?.Verbosity ?? Passes.NotesLevel.Normal));
        return result with { Fallback = report, Notes = notes };
    }

    /// <summary>
    /// The fallback's summary: the cosine before and after (on the held-out calibration samples, and on those it chose on)
    /// and what was kept in float — the count and the first few names, every name at <see cref="Passes.NotesLevel.Detailed"/>.
    /// </summary>
    public static string FallbackNote(QuantizationFallbackReport report, Passes.NotesLevel level)
    {
        var on = report.HeldOutCosine is { } held
            ? $"{held:F4} on {report.HeldOutSamples} held-out calibration samples (95 % bound for as many other inputs {report.HeldOutLowerBound:F4}; {report.Cosine:F4} on the other {report.ChoiceSamples}; target {report.Target:F4})"
            : $"{report.Cosine:F4} on the calibration samples (target {report.Target:F4})";
        var added = report.AddedForHeldOut > 0 ? $" ({report.AddedForHeldOut} of them for the held-out samples)" : "";
        string Names(IReadOnlyList<string> names) => level == Passes.NotesLevel.Detailed || names.Count <= 5
            ? string.Join(", ", names.Select(n => $"'{Text.Message.Name(n)}'"))
            : string.Join(", ", names.Take(5).Select(n => $"'{Text.Message.Name(n)}'")) + $" and {names.Count - 5} more (all of them at detailed verbosity)";
        if (report.KeptInFloat.Count == 0 && report.KeptTensors.Count == 0)
            return $"output cosine {on}: every layer quantized";
        if (report.Unit == FallbackUnit.Tensor)
            return $"output cosine {report.CosineAllQuantized:F4} with everything quantized, {on} with " +
                $"{report.KeptTensors.Count} of {report.Tensors} activation tensors and the weights of {report.KeptInFloat.Count} of {report.Layers} layers kept in float{added} " +
                $"({report.FloatActivations.Count} activation tensors float in all) " +
                $"({report.FloatComputeLayers.Count} layers with quantized weights read or write a float tensor, so run float kernels)" +
                (report.KeptTensors.Count > 0 ? $"; tensors: {Names(report.KeptTensors)}" : "") + (report.KeptInFloat.Count > 0 ? $"; layers: {Names(report.KeptInFloat)}" : "");
        return $"output cosine {report.CosineAllQuantized:F4} with every layer quantized, {on} with {report.KeptInFloat.Count} of " +
            $"{report.Layers} layers kept in float{added} ({report.FloatActivations.Count} of {report.Tensors} activation tensors float with them): {Names(report.KeptInFloat)}";
    }

    /// <summary>Weight-only quantization: weights behind DequantizeLinear, activations and biases float, no calibration.</summary>
    public static QuantizeResult WeightOnly(Model model, QuantizeOptions? options = null) =>
        Static(model, null, (options ?? new QuantizeOptions()) with { Activations = ActivationPrecision.Float });

    /// <summary>
    /// Dynamic quantization of the Conv, MatMul and Gemm layers (activations quantized at run time; no calibration). The notes
    /// name options as <paramref name="session"/>'s <see cref="TechniqueSession.Naming"/> does.
    /// </summary>
    public static QuantizeResult Dynamic(Model model, QuantizeOptions? options = null, TechniqueSession? session = null)
    {
        var prepared = Prepare(model, (options ?? new QuantizeOptions()) with { Mode = QuantizeMode.Dynamic });
        var context = Context(prepared, session);
        var result = new PassPipeline(new QuantizeDynamicPass(prepared.PassOptions)).Run(prepared.Folded, context);
        return new QuantizeResult(result.Model, result.Artifact<QuantizationParameters>()!, CalibratedRanges.None, context.Notes, result.Stats);
    }

    /// <summary>Static or dynamic, as <see cref="QuantizeOptions.Mode"/> says.</summary>
    public static QuantizeResult Run(Model model, QuantizeOptions options, CalibrationSet? calibration, TechniqueSession? session = null, RunnerOptions? runner = null) =>
        options.Mode == QuantizeMode.Dynamic ? Dynamic(model, options, session) : Static(model, calibration, options, session, runner);

    /// <summary>
    /// Checks without quantizing: bad options throw <see cref="OptionsException"/>; returns why the model cannot be
    /// quantized (already quantized, too old an opset, NaN weights, no layer to quantize), or null.
    /// </summary>
    public static string? Check(Model model, QuantizeOptions options) => Fold(model, options.Validate()).Reason;

    /// <summary>Validates, checks and folds (a copy of) <paramref name="model"/>; what cannot be quantized is an <see cref="OptionsException"/>.</summary>
    public static PreparedQuantization Prepare(Model model, QuantizeOptions options)
    {
        var (folded, notes, reason) = Fold(model, options.Validate());
        if (reason is not null) throw new OptionsException(reason);
        var missing = options.FloatTensors.Where(n => folded.Graph.FindValue(n) is null).ToList();
        if (missing.Count > 0)
            throw OptionsException.For(nameof(QuantizeOptions.FloatTensors), $"names {Text.Message.List(missing.Select(n => $"'{Text.Message.Name(n)}'"))}, which the model (its BatchNorms folded) does not hold; " +
                "give the names the fallback lists, or those shrink compare shows");
        return new PreparedQuantization(folded, options, notes);
    }

    /// <summary>
    /// The activation ranges of the plan's tensors, collected in ONNX Runtime on the first
    /// <see cref="QuantizeOptions.CalibrationSamples"/> of <paramref name="calibration"/> (none for weight-only).
    /// </summary>
    public static CalibratedRanges Calibrate(PreparedQuantization prepared, CalibrationSet? calibration, TechniqueSession? session = null, RunnerOptions? runner = null)
    {
        var options = prepared.Options;
        if (!options.Calibrates) return CalibratedRanges.None;
        var samples = (calibration ?? throw new OptionsException("static quantization calibrates the activation ranges on samples; give calibration samples (or quantize the weights only: activations float)"))
            .First(options.CalibrationSamples);
        var values = prepared.Plan().CalibrationValues;
        session?.Note($"calibrating {values.Count} tensors on {samples.Count} samples ({QuantizeOptions.Describe(options.Calibration)})");
        var ranges = Calibrator.Collect(prepared.Folded, values, samples, options.Calibration, options.Percentile, runner);
        return new CalibratedRanges(ranges, options.Calibration, samples.Count);
    }

    /// <summary>
    /// The static QDQ model of <paramref name="prepared"/> with <paramref name="ranges"/>. <paramref name="weights"/>:
    /// initializers that replace the folded model's before quantizing (the weights quantization-aware training ended with).
    /// The notes name options as <paramref name="session"/>'s <see cref="TechniqueSession.Naming"/> does.
    /// </summary>
    public static QuantizeResult Export(PreparedQuantization prepared, CalibratedRanges ranges, IReadOnlyDictionary<string, Tensor>? weights = null,
        TechniqueSession? session = null)
    {
        var model = prepared.Folded;
        if (weights is { Count: > 0 })
        {
            model = model.Clone();
            foreach (var (name, tensor) in weights)
                (model.Graph.FindInitializer(name) ?? throw new ArgumentException($"the model has no initializer '{name}' to replace", nameof(weights))).Const = tensor.Clone(name);
        }
        var context = Context(prepared, session);
        var passes = new List<IPass> { prepared.StaticPass(ranges) };
        // Weight-only int4 as MatMulNBits: the embedding tables as GatherBlockQuantized too, as ONNX Runtime's own
        // weight-only quantizer does (unless the op types were chosen by hand).
        if (prepared.PassOptions.MatMulNBits is { } nbits && MatMulNBits.ValidBlockSize(nbits.BlockSize) && prepared.Options is { Weights: WeightPrecision.Int4, OpTypes: null })
            passes.Add(new GatherNBitsPass(nbits));
        var result = new PassPipeline(passes.ToArray()).Run(model, context);
        return new QuantizeResult(result.Model, result.Artifact<QuantizationParameters>()!, ranges, context.Notes, result.Stats);
    }

    private static (Model Folded, List<string> Notes, string? Reason) Fold(Model model, QuantizeOptions options)
    {
        options.CheckNames(model);
        var pass = options.ToPassOptions();
        var dynamic = options.Mode == QuantizeMode.Dynamic;
        if ((dynamic ? new QuantizeDynamicPass(pass).CheckModel(model) : new QuantizeStaticPass(pass).CheckModel(model)) is { } reason)
            return (model, new List<string>(), reason);
        // Layers are looked for after folding: weights behind Constant nodes or exporter Transposes become initializers there.
        var context = new PassContext();
        var folded = new PassPipeline(new UnshareInitializersPass(), new FoldConstantsPass(), new FoldBatchNormPass()).Run(model, context).Model;
        reason = dynamic ? new QuantizeDynamicPass(pass).CheckPreconditions(folded) : new QuantizeStaticPass(pass).CheckPreconditions(folded);
        return (folded, context.Notes, reason);
    }

    /// <summary>A pass context holding the notes of the preparation, so the result's notes come in the order they were made.</summary>
    private static PassContext Context(PreparedQuantization prepared, TechniqueSession? session)
    {
        var context = new PassContext { Naming = session?.Naming };
        context.Notes.AddRange(prepared.Notes);
        return context;
    }
}
