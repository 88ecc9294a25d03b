using Shrink.Ir;
using Shrink.Text;

namespace Shrink.Passes.Quantization;

/// <summary>How activation ranges are chosen from the calibration samples.</summary>
public enum CalibrationMethod
{
    /// <summary>The observed minimum and maximum.</summary>
    MinMax,

    /// <summary>A percentile of |x| (e.g. 99.99): outliers saturate instead of stretching the scale.</summary>
    Percentile,

    /// <summary>The range whose 128-bin quantized histogram is nearest (KL divergence) to the float one (ONNX Runtime's entropy calibrator).</summary>
    Entropy,
}

/// <summary>
/// Whether 8-bit weights use 7 bits (levels ±64, scale max|w|/64), as ONNX Runtime's quantizer's
/// <c>reduce_range</c> and PyTorch's fbgemm observers do, so that ONNX Runtime's u8×s8 kernels on x86
/// without VNNI compute them exactly (see <see cref="IntegerKernels"/>).
/// </summary>
public enum ReduceRange
{
    /// <summary>On when the CPU running the quantization saturates (x86 without VNNI) and the activations are quantized (integer kernels run).</summary>
    Auto,

    /// <summary>Always 7 bits: for models deployed on x86 machines without VNNI.</summary>
    On,

    /// <summary>Always the full 8 bits: for models deployed on VNNI x86 or ARM machines.</summary>
    Off,
}

/// <summary>
/// Options of post-training static quantization to ONNX QDQ. Weights are symmetric int8 (scale =
/// max|w|/127, zero point 0), per output channel or per tensor; activations uint8 asymmetric
/// (zero point from the range, what ONNX Runtime's x86 integer kernels prefer) or int8 symmetric.
/// 8-bit weights may use 7 bits instead (<see cref="ReduceRange"/>). These are the passes' options; the
/// <c>quantize</c> technique takes <see cref="QuantizeOptions"/> (the CLI's defaults) and derives them.
/// </summary>
public sealed record QuantizationOptions
{
    public bool PerChannel { get; init; } = true;

    /// <summary>
    /// Activation element type: <see cref="DataType.UInt8"/> (asymmetric), <see cref="DataType.Int8"/>
    /// (symmetric) or <see cref="DataType.Float"/> (weight-only quantization: no calibration, activations
    /// and biases stay float).
    /// </summary>
    public DataType Activations { get; init; } = DataType.UInt8;

    public CalibrationMethod Calibration { get; init; } = CalibrationMethod.MinMax;

    /// <summary>Percentile calibration: the percentile of |x| that becomes the range limit.</summary>
    public double Percentile { get; init; } = 99.99;

    /// <summary>Names of nodes kept in float.</summary>
    public IReadOnlySet<string> Exclude { get; init; } = new HashSet<string>();

    /// <summary>
    /// Names of activation tensors kept in float: no Q/DQ pair on them (nor on a reshaping op's or MaxPool's output that
    /// would share their parameters), so their readers take float values while the layers around them keep their
    /// quantized weights; a Relu / Clip whose output is named stays in the graph. The names are those a plan's
    /// <see cref="QuantizeStaticPass.QuantPlan.CalibrationValues"/> lists (a layer's output followed by a removed
    /// activation is named by the activation's output).
    /// </summary>
    public IReadOnlySet<string> FloatTensors { get; init; } = new HashSet<string>();

    /// <summary>Weight bit width: 8, 4, 2 (ternary) or 1 (binary); see <see cref="WeightQuantizer"/>.</summary>
    public int WeightBits { get; init; } = 8;

    /// <summary>Mixed precision: bit width per layer name (0 keeps the layer in float); layers not named use <see cref="WeightBits"/>.</summary>
    public IReadOnlyDictionary<string, int>? LayerBits { get; init; }

    /// <summary>The weight bit width of a layer, or 0 when it stays in float.</summary>
    public int BitsOf(Node layer) => Exclude.Contains(layer.Name) ? 0 : LayerBits?.GetValueOrDefault(layer.Name, WeightBits) ?? WeightBits;

    /// <summary>
    /// Container of weights below 8 bits: <see cref="DataType.Int4"/> (ONNX INT4 in DequantizeLinear, packed
    /// two per byte; the model's opset is raised to 21) or <see cref="DataType.Int8"/> (levels in int8,
    /// which ONNX Runtime runs with its int8 integer kernels).
    /// </summary>
    public DataType LowBitStorage { get; init; } = DataType.Int4;

    /// <summary>
    /// Block-wise scales for INT4-stored weights (0: per channel or per tensor): one scale per this many
    /// consecutive weights along the reduction axis (Conv input channels, Gemm/MatMul K), as in
    /// DequantizeLinear-21's block_size. Biases stay float then.
    /// </summary>
    public int BlockSize { get; init; }

    /// <summary>
    /// Weight-only (activations float): the int4 MatMul and Gemm layers as ONNX Runtime's MatMulNBits with these settings
    /// (<see cref="Quantization.MatMulNBits"/>), the others as <see cref="LowBitStorage"/> says; null: none.
    /// </summary>
    public MatMulNBitsOptions? MatMulNBits { get; init; }

    /// <summary>7-bit weights (levels ±64) for 8-bit layers; <see cref="ReduceRange.Auto"/> decides on the CPU running the quantization.</summary>
    public ReduceRange ReduceRange { get; init; } = ReduceRange.Auto;

    /// <summary>
    /// Whether 8-bit weights take 7-bit levels here, and a note saying so and why (null when there is
    /// nothing to say; it names <see cref="ReduceRange"/> and its values). <paramref name="integerKernels"/>: the
    /// activations are quantized, so ONNX Runtime runs integer kernels (not weight-only quantization).
    /// </summary>
    public (bool On, OptionText? Note) ResolveReduceRange(bool integerKernels)
    {
        var option = OptionName.Of(nameof(ReduceRange));
        const string saturates = "this CPU is x86 without VNNI, where ONNX Runtime's u8×s8 kernels add pairs of products in saturating int16 (VPMADDUBSW)";
        return ReduceRange switch
        {
            ReduceRange.On => (true, OptionText.Of($"int8 weights use 7 bits (levels ±{WeightQuantizer.ReducedLimit}; {option} on)")),
            ReduceRange.Off => (false, integerKernels && IntegerKernels.U8S8Saturates
                ? OptionText.Of($"int8 weights use the full 8 bits ({option} off), but {saturates}: the model runs less accurately here than on VNNI or ARM machines ({option} auto avoids it)")
                : null),
            _ when integerKernels && IntegerKernels.U8S8Saturates => (true, OptionText.Of(
                $"int8 weights use 7 bits (levels ±{WeightQuantizer.ReducedLimit}; {option} auto): {saturates} and full-range weights overflow; for a model deployed on VNNI or ARM machines, {option} off keeps 8 bits")),
            _ => (false, null),
        };
    }

    /// <summary>
    /// The op types to quantize (ONNX Runtime's <c>op_types_to_quantize</c>); nodes of other types stay float. The default:
    /// every op type static quantization quantizes (<see cref="QuantizeOpTypes.Static"/>).
    /// </summary>
    public IReadOnlySet<string> OpTypes { get; init; } = QuantizeOpTypes.Static.ToHashSet();

    /// <summary>Only MatMuls with a constant B are quantized (ONNX Runtime's <c>MatMulConstBOnly</c>); else the MatMuls of two activations too.</summary>
    public bool MatMulConstBOnly { get; init; }

    /// <summary>
    /// Activation ranges symmetric around zero (ONNX Runtime's <c>ActivationSymmetric</c>: uint8 zero point 128, int8 zero
    /// point 0); false: asymmetric (the zero point from the range); null: uint8 asymmetric, int8 symmetric.
    /// </summary>
    public bool? ActivationSymmetric { get; init; }

    /// <summary>Whether activations are quantized symmetrically: <see cref="ActivationSymmetric"/>, else for int8 only.</summary>
    public bool SymmetricActivations => ActivationSymmetric ?? Activations == DataType.Int8;

    /// <summary>Metadata key listing the packed bit width of low-bit weight tensors ("name:bits,…"), read by the size statistics.</summary>
    public const string PackedBitsKey = "shrink.weight_bits";

    public QuantizationOptions Validate()
    {
        if (Activations is not (DataType.UInt8 or DataType.Int8 or DataType.Float)) throw new OptionsException($"activations must be uint8, int8 or float, got {Activations.ShortName()}");
        if (!(Percentile > 50 && Percentile <= 100)) throw OptionsException.For(nameof(Percentile), $"must be in (50, 100], got {Percentile}");
        if (LowBitStorage is not (DataType.Int4 or DataType.Int8)) throw new OptionsException($"low-bit weights are stored as int4 or int8, got {LowBitStorage.ShortName()}");
        if (BlockSize < 0 || BlockSize == 1) throw OptionsException.For(nameof(BlockSize), $"must be 2 or more (or 0 for none), got {BlockSize}");
        if (BlockSize > 0 && LowBitStorage != DataType.Int4) throw new OptionsException("block-wise scales apply to weights stored as ONNX int4, not as int8 levels");
        if (MatMulNBits is not null && LowBitStorage != DataType.Int4) throw OptionsException.For(nameof(MatMulNBits), "weights for MatMulNBits are int4; the other low-bit layers are stored as ONNX int4 beside them, not as int8 levels");
        if (!Enum.IsDefined(ReduceRange)) throw new OptionsException($"reduce range must be auto, on or off, got {ReduceRange}");
        if (OpTypes.Count == 0) throw OptionsException.For(nameof(OpTypes), "names no op type; name at least one, or leave it unset for all");
        // A block size MatMulNBits cannot take falls back to DequantizeLinear with a note; an accuracy level is refused.
        if (MatMulNBits is { AccuracyLevel: < 0 or > 4 } nbits)
            throw OptionsException.For(nameof(MatMulNBits), $"accuracy level must be 0 to 4 (MatMulNBits' accuracy_level), got {nbits.AccuracyLevel}");
        if (!WeightQuantizer.Widths.Contains(WeightBits)) throw new OptionsException($"weight bits must be 8, 4, 2 (ternary) or 1 (binary), got {WeightBits}");
        foreach (var (layer, bits) in LayerBits ?? new Dictionary<string, int>())
            if (bits != 0 && !WeightQuantizer.Widths.Contains(bits))
                throw new OptionsException($"layer '{layer}': bits {bits} is not 8, 4, 2 (ternary), 1 (binary) or 32 (float)");
        return this;
    }
}

/// <summary>The affine map of one tensor: real = scale · (q − zero point).</summary>
public readonly record struct QuantParams(float Scale, int ZeroPoint, DataType Type)
{
    /// <summary>Records packed bit widths (below 8) of weight tensors in the model's metadata.</summary>
    public static void RecordPackedBits(Model model, IEnumerable<(string Tensor, int Bits)> tensors)
    {
        var entries = (model.Metadata.FirstOrDefault(kv => kv.Key == QuantizationOptions.PackedBitsKey).Value ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries).ToList();
        entries.AddRange(tensors.Where(t => t.Bits < 8).Select(t => $"{t.Tensor}:{t.Bits}"));
        if (entries.Count > 0) model.SetMetadata(QuantizationOptions.PackedBitsKey, string.Join(",", entries));
    }

    /// <summary>Parameters covering [min, max] (widened to hold 0, which must be exact): int8 symmetric, uint8 asymmetric.</summary>
    public static QuantParams ForRange(double min, double max, DataType type) => ForRange(min, max, type, symmetric: type == DataType.Int8);

    /// <summary>
    /// Parameters covering [min, max] (widened to hold 0), as ONNX Runtime's <c>compute_scale_zp</c>: symmetric int8 takes
    /// ±max|x| onto ±127 (zero point 0), symmetric uint8 onto 0…255 around zero point 128; asymmetric takes [min, max]
    /// onto the type's whole range, the zero point rounded from −min / scale.
    /// </summary>
    public static QuantParams ForRange(double min, double max, DataType type, bool symmetric)
    {
        min = Math.Min(min, 0);
        max = Math.Max(max, 0);
        var limit = Math.Max(Math.Abs(min), Math.Abs(max));
        if (symmetric && type == DataType.Int8) return new QuantParams(limit > 0 ? (float)(limit / 127) : 1f, 0, type);
        if (symmetric) return new QuantParams(limit > 0 ? (float)(2 * limit / 255) : 1f, 128, type);
        var scale = max > min ? (max - min) / 255 : 1;
        var low = type == DataType.Int8 ? -128 : 0;
        var zero = (int)Math.Clamp(Math.Round(low - min / scale), low, low + 255);
        return new QuantParams((float)scale, zero, type);
    }
}
