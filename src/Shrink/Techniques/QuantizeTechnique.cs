using Shrink.Ir;
using Shrink.Passes.Quantization;

namespace Shrink.Techniques;

/// <summary>
/// <c>quantize</c>: post-training quantization to ONNX (<see cref="Quantizer"/>) — static QDQ with activation ranges
/// calibrated in ONNX Runtime, dynamic (MatMul/Gemm weights, activations at run time) or weight-only (activations
/// float), as <see cref="QuantizeOptions"/> say. Needs no training. Static calibration uses the inputs' calibration
/// samples, else the first <see cref="QuantizeOptions.CalibrationSamples"/> samples of the training split.
/// Artifact: <see cref="QuantizationParameters"/>.
/// </summary>
public sealed class QuantizeTechnique : Technique<QuantizeOptions>
{
    public override string Id => "quantize";

    public override string Summary => "post-training quantization to ONNX: static QDQ calibrated in ONNX Runtime, dynamic, or weight-only";

    public override IReadOnlyList<string> Check(Model model, QuantizeOptions options, TechniqueInputs inputs)
    {
        var reasons = new List<string>();
        if (Quantizer.Check(model, options) is { } reason) reasons.Add(reason);
        if (options.Calibrates && inputs.Calibration is null && inputs.Data is null)
            reasons.Add("static quantization calibrates the activation ranges on samples; give calibration samples or a data set");
        return reasons;
    }

    public override TechniqueResult Run(Model model, QuantizeOptions options, TechniqueInputs inputs, TechniqueSession session) =>
        Quantizer.Run(model, options, CalibrationOf(options, inputs), session, inputs.Runner).ToTechniqueResult();

    /// <summary>The samples static quantization calibrates on: the inputs' calibration set, else the training set (null when none is needed or given).</summary>
    public static CalibrationSet? CalibrationOf(QuantizeOptions options, TechniqueInputs inputs) =>
        !options.Calibrates ? null
        : inputs.Calibration ?? (inputs.Data is { } data ? CalibrationSet.From(data.Train, options.CalibrationSamples) : null);
}
