using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Quantization;
using Shrink.Techniques;
using Shrink.Training.FineTuning;

namespace Shrink.Training.Quantization;

/// <summary>Where quantization-aware training takes the activation ranges of the export from.</summary>
public enum QatActivationRanges
{
    /// <summary>Moving-average min/max of the training activations, started at the calibrated ranges (PyTorch's QAT observers).</summary>
    Observed,

    /// <summary>Fixed at the calibrated ranges.</summary>
    Calibrated,
}

/// <summary>
/// Options of quantization-aware training, with the defaults of <c>shrink quantize --mode qat</c>: the static
/// quantization it ends with (<see cref="Quantize"/>), the fine-tuning it trains with (at least one epoch must be
/// given) and where the activation ranges come from.
/// </summary>
public sealed record QatOptions
{
    /// <summary>The static quantization trained for and exported (its mode must be static).</summary>
    public QuantizeOptions Quantize { get; init; } = new();

    public FineTuneOptions FineTune { get; init; } = new();

    public QatActivationRanges ActivationRanges { get; init; } = QatActivationRanges.Observed;

    /// <summary>Checks the options (<see cref="OptionsException"/>); returns them.</summary>
    public QatOptions Validate(bool hasData, bool hasTeacher)
    {
        Quantize.Validate();
        if (Quantize.Mode != QuantizeMode.Static) throw new OptionsException("quantization-aware training exports static QDQ; dynamic quantization does not apply");
        if (!Enum.IsDefined(ActivationRanges)) throw new OptionsException($"activation ranges must be observed or calibrated, got {ActivationRanges}");
        if (Quantize.ActivationSymmetric is not null)
            throw OptionsException.For(nameof(QuantizeOptions.ActivationSymmetric), "does not apply to quantization-aware training, whose fake quantizers train uint8 asymmetric or int8 symmetric activations; leave it unset");
        if (FineTune.Epochs < 1) throw new OptionsException("quantization-aware training trains with quantized weights; give at least 1 fine-tuning epoch and labelled data");
        FineTune.CheckOptional(hasData, hasTeacher);
        return this;
    }
}

/// <summary>
/// The result of quantization-aware training: the static QDQ export (<see cref="QuantizeResult"/>), the executor's
/// test accuracy after the last epoch (quantized weights, fake-quantized activations), the epoch history, and the
/// training graph as trained (Q/DQ on the activations, the weights on their grid).
/// </summary>
public sealed record QatResult(QuantizeResult Quantized, double ExecutorAccuracy, IReadOnlyList<EpochMetrics> History, Model Trained)
{
    public TechniqueResult ToTechniqueResult() => Quantized.ToTechniqueResult();
}

/// <summary>
/// Quantization-aware training (Jacob et al. 2018): folds and calibrates as <see cref="Quantizer.Static"/> does,
/// fine-tunes (<see cref="FineTuner"/>, label "qat") with the activations fake-quantized at their ranges (Q/DQ in
/// the executor, straight-through gradients) and the weights kept on the grid the export ships
/// (<see cref="WeightQatHook"/>, block-wise included), then exports the static QDQ model with the master weights
/// and the ranges training ended with, so ONNX Runtime runs what the executor evaluated.
/// </summary>
public static class QuantizationAwareTraining
{
    public static QatResult Run(Model model, TechniqueInputs inputs, QatOptions options, TechniqueSession session)
    {
        options.Validate(inputs.Data is not null, inputs.Teacher is not null);
        var prepared = Quantizer.Prepare(model, options.Quantize);
        var ranges = Quantizer.Calibrate(prepared, QuantizeTechnique.CalibrationOf(options.Quantize, inputs), session, inputs.Runner);
        var fakeQuant = new QuantizeStaticPass(prepared.PassOptions, ranges.Ranges) { ActivationsOnly = true }.Run(prepared.Folded, new PassContext());
        var quantizers = fakeQuant.Artifact<ActivationQuantizers>()!.Scales;
        var schemes = prepared.WeightSchemes();
        var observe = options.ActivationRanges == QatActivationRanges.Observed && options.Quantize.Calibrates;
        WeightQatHook? weights = null;
        ActivationRangeHook? observer = null;
        var tuned = FineTuner.Run(fakeQuant.Model, options.FineTune, inputs.WithOriginal(model), session, "qat", ex =>
        {
            weights = new WeightQatHook(ex, schemes);
            var hooks = new List<ITrainingHook> { weights };
            if (observe) hooks.Add(observer = new ActivationRangeHook(ex, quantizers.Select(a => (a.ScaleName, a.Lower, a.Upper))));
            return hooks;
        });
        if (observer is not null)
        {
            var observed = ranges.Ranges.ToDictionary(kv => kv.Key, kv => kv.Value);
            foreach (var a in quantizers) observed[a.RangeKey] = observer.Ranges[a.ScaleName];
            ranges = ranges with { Ranges = observed, Observed = true };
        }
        var quantized = Quantizer.Export(prepared, ranges, TrainedWeights(prepared.Folded, tuned.Model, weights!.Masters), session);
        return new QatResult(quantized, tuned.TestAccuracy, tuned.History, tuned.Model);
    }

    /// <summary>
    /// The initializers of <paramref name="folded"/> that training changed (same name, shape and type in
    /// <paramref name="trained"/>), with the quantized layers' weights taken from their float masters.
    /// </summary>
    private static Dictionary<string, Tensor> TrainedWeights(Model folded, Model trained, IReadOnlyDictionary<string, Tensor> masters)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var v in folded.Graph.Initializers)
            if (trained.Graph.FindInitializer(v.Name)?.Const is { } t && t.Dims.SequenceEqual(v.Const!.Dims) && t.DataType == v.Const.DataType)
                result[v.Name] = t;
        foreach (var (name, master) in masters) result[name] = master;
        return result;
    }
}

/// <summary>
/// <c>quantize-qat</c>: quantization-aware training (<see cref="QuantizationAwareTraining"/>); needs labelled data
/// and, to distill, a teacher. Artifact: <see cref="QuantizationParameters"/>.
/// </summary>
public sealed class QatTechnique : Technique<QatOptions>
{
    public override string Id => "quantize-qat";

    public override string Summary => "quantization-aware training: fine-tunes on the grid the static export ships, then writes the QDQ model";

    public override IReadOnlyList<string> Check(Model model, QatOptions options, TechniqueInputs inputs)
    {
        options.Validate(inputs.Data is not null, inputs.Teacher is not null);
        return Quantizer.Check(model, options.Quantize) is { } reason ? new[] { reason } : Array.Empty<string>();
    }

    public override TechniqueResult Run(Model model, QatOptions options, TechniqueInputs inputs, TechniqueSession session) =>
        QuantizationAwareTraining.Run(model, inputs, options, session).ToTechniqueResult();
}
