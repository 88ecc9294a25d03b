using Shrink.Ir;
using Shrink.Techniques;

namespace Shrink.Passes.Quantization;

/// <summary>
/// What a quantization decided, as data (the <c>quantization-parameters</c> artifact, version 1): per weight
/// tensor its scheme (bits, granularity, axis, block size, reduce range), container and scales — zero points
/// are all 0 (symmetric weights) — and per calibrated activation tensor its range, scale, zero point and
/// element type. JSON through <see cref="Artifacts.ToJson"/> and <see cref="Artifacts.FromJson{T}"/>.
/// </summary>
public sealed record QuantizationParameters : IArtifact
{
    public string Kind => "quantization-parameters";
    public int Version => 1;

    public QuantizeMode Mode { get; init; }

    /// <summary>How the activation ranges were chosen (null when none were: dynamic or weight-only).</summary>
    public CalibrationMethod? Calibration { get; init; }

    /// <summary>Samples the ranges were calibrated on (0 when none were).</summary>
    public int CalibrationSamples { get; init; }

    /// <summary>True when quantization-aware training moved the ranges after calibration (observed ranges).</summary>
    public bool RangesObserved { get; init; }

    public IReadOnlyList<WeightParameters> Weights { get; init; } = Array.Empty<WeightParameters>();

    /// <summary>The activation quantizers, by the tensor whose range each covers (empty for dynamic and weight-only).</summary>
    public IReadOnlyList<ActivationParameters> Activations { get; init; } = Array.Empty<ActivationParameters>();
}

/// <summary>
/// One quantized weight: the layer, the weight tensor (as named in the float model), its scheme, the element
/// type its levels are stored in (int8 or int4) and its scales (<see cref="WeightScheme.ScaleDims"/>, row-major).
/// The dynamic pass quantizes a weight as MatMulInteger's [K, N]: its scheme's axis is 1 of that matrix.
/// </summary>
public sealed record WeightParameters(string Layer, string Tensor, WeightScheme Scheme, DataType Storage, IReadOnlyList<float> Scales)
{
    /// <summary>Weights are symmetric: every zero point is 0.</summary>
    public int ZeroPoint => 0;
}

/// <summary>One activation quantizer: real = Scale · (q − ZeroPoint), covering [Min, Max] (widened to hold 0).</summary>
public sealed record ActivationParameters(string Tensor, double Min, double Max, float Scale, int ZeroPoint, DataType Type);
