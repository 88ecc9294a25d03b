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
/// cosine to the float model before it (every layer quantized) and after, both on the <see cref="ChoiceSamples"/>
/// calibration samples it chose on, the cosine after on the <see cref="HeldOutSamples"/> it held out
/// (<see cref="HeldOutCosine"/>: the figure the target is confirmed on), the layers it kept in float (most sensitive
/// first) and the sensitivity of every layer it measured (empty when none was needed).
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

    /// <summary>The calibration samples the fallback measured its choices on (<see cref="Cosine"/>, the sensitivities).</summary>
    public int ChoiceSamples { get; init; }

    /// <summary>
    /// The calibration samples held out of those choices (<see cref="QuantizeOptions.FallbackHoldOut"/>; 0: none, and
    /// <see cref="Cosine"/> is the only figure). Their ranges are calibrated with the others'.
    /// </summary>
    public int HeldOutSamples { get; init; }

    /// <summary>The output cosine of the result on the held-out samples (their mean of per-sample cosines), else null (none held out).</summary>
    public double? HeldOutCosine { get; init; }

    /// <summary>
    /// The one-sided 95 % prediction bound of <see cref="HeldOutCosine"/> for as many other inputs like them (its mean
    /// less <see cref="QuantizationFallback.HoldOutZ"/> · σ · √(2/n), σ the spread of the n per-sample cosines): at least
    /// the target, the figure the fallback confirms it on; else null (none held out).
    /// </summary>
    public double? HeldOutLowerBound { get; init; }

    /// <summary>
    /// The units (activation tensors, layers' weights, or layers) kept in float beyond those the choice samples needed,
    /// so that the held-out samples' lower bound also reaches the target: the next most costly, found by doubling then halving.
    /// </summary>
    public int AddedForHeldOut { get; init; }
}
