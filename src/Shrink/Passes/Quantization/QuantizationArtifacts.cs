using Shrink.Ir;
using Shrink.Techniques;

namespace Shrink.Passes.Quantization;

/// <summary>The range [Min, Max] an activation took over the calibration samples.</summary>
public readonly record struct ValueRange(double Min, double Max);

/// <summary>
/// The <c>activation-ranges</c> artifact: the calibrated range of every activation <see cref="QuantizeStaticPass"/>
/// quantizes, by the names its plan lists (<see cref="QuantizeStaticPass.QuantPlan.CalibrationValues"/>). A
/// calibration step (<see cref="Calibrator.Collect"/>) makes it; the pass reads it from its constructor or
/// from its <see cref="PassContext"/>.
/// </summary>
public sealed record ActivationRanges : IArtifact
{
    public string Kind => "activation-ranges";
    public int Version => 1;

    public IReadOnlyDictionary<string, ValueRange> Ranges { get; init; } = new Dictionary<string, ValueRange>();

    public static ActivationRanges Of(IReadOnlyDictionary<string, (double Min, double Max)> ranges) =>
        new() { Ranges = ranges.ToDictionary(kv => kv.Key, kv => new ValueRange(kv.Value.Min, kv.Value.Max)) };

    /// <summary>The ranges as (min, max) pairs, the form <see cref="QuantizeStaticPass"/> and <see cref="Calibrator"/> use.</summary>
    public IReadOnlyDictionary<string, (double Min, double Max)> ToPairs() => Ranges.ToDictionary(kv => kv.Key, kv => (kv.Value.Min, kv.Value.Max));
}

/// <summary>
/// One activation quantizer <see cref="QuantizeStaticPass"/> made: the key of its range in the activation ranges,
/// its scale initializer, and the bounds of the activation it absorbed (0 and +∞ for a ReLU; ±∞ for none).
/// Quantization-aware training observes these and exports with the ranges it ends with.
/// </summary>
public sealed record ActivationScale(string RangeKey, string ScaleName, double Lower, double Upper);

/// <summary>
/// The <c>activation-quantizers</c> artifact of <see cref="QuantizeStaticPass"/>: its activation quantizers
/// (tensors sharing their input's parameters excluded), in plan order. In
/// <see cref="QuantizeStaticPass.ActivationsOnly"/> mode (quantization-aware training's graph) this is what
/// the trainer hooks onto.
/// </summary>
public sealed record ActivationQuantizers : IArtifact
{
    public string Kind => "activation-quantizers";
    public int Version => 1;

    public IReadOnlyList<ActivationScale> Scales { get; init; } = Array.Empty<ActivationScale>();
}

/// <summary>What a quantized tensor is to its layer.</summary>
public enum QuantizedRole { Weight, Bias, Activation }

/// <summary>
/// The affine map of one quantized tensor, real = scale · (q − zero point): <paramref name="Name"/> is the float
/// tensor's name in the input model, <paramref name="Type"/> the stored integer type, <paramref name="Axis"/> the
/// axis of per-channel or block-wise scales in the stored integer tensor (null: one scale), <paramref name="BlockSize"/> 0 unless block-wise,
/// and <paramref name="Scales"/> / <paramref name="ZeroPoints"/> in C order over <paramref name="ScaleShape"/>.
/// </summary>
public sealed record QuantizedTensor(string Name, QuantizedRole Role, DataType Type, int Bits, int? Axis, int BlockSize,
    long[] ScaleShape, float[] Scales, int[] ZeroPoints)
{
    /// <summary>The parameters a DequantizeLinear node applies (its scale and zero point constants, axis and block size).</summary>
    public static QuantizedTensor FromDequantize(string name, QuantizedRole role, Node dequantize, int bits)
    {
        var scale = Graph.ConstantOf(dequantize.Inputs[1]) ?? throw new InvalidOperationException($"'{dequantize.DisplayName}' has no constant scale");
        var axis = scale.Dims.Length == 0 ? (int?)null : (int)dequantize.GetInt("axis", 1);
        return FromConstants(name, role, bits, Graph.ConstantOf(dequantize.Inputs[0]), scale, Graph.ConstantOf(dequantize.Inputs.ElementAtOrDefault(2)),
            axis, (int)dequantize.GetInt("block_size", 0));
    }

    /// <summary>The parameters of a quantized tensor from its integer data, scale and zero point constants (the zero point may be absent: 0).</summary>
    public static QuantizedTensor FromConstants(string name, QuantizedRole role, int bits, Tensor? quantized, Tensor scale, Tensor? zero, int? axis, int blockSize)
    {
        var type = zero?.DataType ?? quantized?.DataType ?? DataType.UInt8;
        return new QuantizedTensor(name, role, type, bits, axis, blockSize, (long[])scale.Dims.Clone(), scale.Floats.ToArray(),
            zero is null ? new int[scale.ElementCount] : zero.ToDoubles().Select(z => (int)z).ToArray());
    }

    /// <summary>An activation's parameters (one scale and zero point).</summary>
    public static QuantizedTensor Activation(string name, QuantParams p) =>
        new(name, QuantizedRole.Activation, p.Type, 8, null, 0, Array.Empty<long>(), new[] { p.Scale }, new[] { p.ZeroPoint });
}

/// <summary>
/// The <c>quantization-parameters</c> artifact of the quantization passes: the scale and zero point of every
/// tensor they quantized — weights (and int32 biases) offline, activations from their ranges; dynamic
/// quantization lists weights only (its activations are quantized at run time).
/// </summary>
public sealed record QuantizationParameters : IArtifact
{
    public string Kind => "quantization-parameters";
    public int Version => 1;

    public IReadOnlyList<QuantizedTensor> Tensors { get; init; } = Array.Empty<QuantizedTensor>();

    /// <summary>The entry of the tensor called <paramref name="name"/> in the role given, or null.</summary>
    public QuantizedTensor? Find(string name, QuantizedRole role = QuantizedRole.Weight) => Tensors.FirstOrDefault(t => t.Name == name && t.Role == role);
}
