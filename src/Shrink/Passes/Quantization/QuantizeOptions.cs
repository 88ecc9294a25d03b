using System.Text.Json.Serialization;
using Shrink.Ir;

namespace Shrink.Passes.Quantization;

/// <summary>When activations are quantized: from calibrated ranges (static) or at run time (dynamic).</summary>
public enum QuantizeMode
{
    /// <summary>QDQ with activation ranges calibrated on samples (or, with activations float, weight-only).</summary>
    Static,

    /// <summary>Conv, MatMul and Gemm weights offline, activations quantized at run time (DynamicQuantizeLinear); no calibration.</summary>
    Dynamic,
}

/// <summary>The precision of a layer's weights; the value is the bit width (0: float).</summary>
public enum WeightPrecision
{
    /// <summary>Kept in float (for a layer of <see cref="QuantizeOptions.Layers"/>).</summary>
    Float = 0,

    /// <summary>±α (BWN).</summary>
    Binary = 1,

    /// <summary>−α, 0, +α (TWN).</summary>
    Ternary = 2,

    /// <summary>Levels ±7.</summary>
    Int4 = 4,

    /// <summary>Levels ±127 (±64 with reduce range).</summary>
    Int8 = 8,
}

/// <summary>The element type of quantized activations.</summary>
public enum ActivationPrecision
{
    /// <summary>Asymmetric uint8 (what ONNX Runtime's x86 kernels prefer).</summary>
    [JsonStringEnumMemberName("uint8")] UInt8,

    /// <summary>Symmetric int8.</summary>
    Int8,

    /// <summary>Activations stay float: weight-only quantization, no calibration.</summary>
    Float,
}

/// <summary>The container of weights below 8 bits.</summary>
public enum WeightStorage
{
    /// <summary>ONNX INT4 in DequantizeLinear (opset raised to 21), packed two per byte; dequantized at run time.</summary>
    Int4,

    /// <summary>Levels in int8, run by ONNX Runtime's int8 kernels; the size statistics count the packed bits.</summary>
    Int8,

    /// <summary>
    /// Weight-only (activations float): MatMul and Gemm layers as ONNX Runtime's <c>com.microsoft.MatMulNBits</c>, whose CPU
    /// kernels read the packed int4 blocks (<see cref="Quantization.MatMulNBits"/>; <see cref="QuantizeOptions.BlockSize"/>
    /// weights per scale, 32 when it is 0); other layers, and those MatMulNBits cannot take (a note says why), as
    /// <see cref="Int4"/>. With quantized activations the same as <see cref="Int4"/>.
    /// </summary>
    MatMulNBits,
}

/// <summary>What the automatic fallback of static quantization (<see cref="QuantizeOptions.MinFidelity"/>) keeps at higher precision.</summary>
public enum FallbackUnit
{
    /// <summary>
    /// Activation tensors: their Q/DQ pairs are removed one tensor at a time (the layers around them keep quantized
    /// weights), the most costly first, then those found unneeded are quantized again; when quantizing the weights alone
    /// already misses the target, single layers' weights are units too (kept float, their activations still quantized).
    /// </summary>
    Tensor,

    /// <summary>Whole layers (weights, input and output) kept in float, the most sensitive first.</summary>
    Layer,
}

/// <summary>
/// Options of the <c>quantize</c> technique (<see cref="Quantizer"/>), with the defaults of <c>shrink quantize</c>:
/// static QDQ, int8 weights per tensor, uint8 activations calibrated by min/max on 512 samples, reduce range
/// decided on this CPU. A plain record (enums, lists, a dictionary), so a recipe can write it.
/// </summary>
public sealed record QuantizeOptions
{
    public QuantizeMode Mode { get; init; } = QuantizeMode.Static;

    /// <summary>Precision of every quantized layer's weights, unless <see cref="Layers"/> names it.</summary>
    public WeightPrecision Weights { get; init; } = WeightPrecision.Int8;

    /// <summary>uint8, int8, or float (weight-only; static mode only).</summary>
    public ActivationPrecision Activations { get; init; } = ActivationPrecision.UInt8;

    /// <summary>One weight scale per output channel (else one per tensor).</summary>
    public bool PerChannel { get; init; }

    public CalibrationMethod Calibration { get; init; } = CalibrationMethod.MinMax;

    /// <summary>Percentile calibration: the percentile of |x| kept, in (50, 100].</summary>
    public double Percentile { get; init; } = 99.99;

    /// <summary>Calibration uses the first this many samples of the calibration set (or of the training set).</summary>
    public int CalibrationSamples { get; init; } = 512;

    /// <summary>Names of nodes kept in float.</summary>
    public IReadOnlyList<string> Exclude { get; init; } = Array.Empty<string>();

    /// <summary>Mixed precision: layer name → precision (<see cref="WeightPrecision.Float"/> keeps it in float).</summary>
    public IReadOnlyDictionary<string, WeightPrecision>? Layers { get; init; }

    public WeightStorage Storage { get; init; } = WeightStorage.MatMulNBits;

    /// <summary>
    /// INT4 storage: one scale per this many weights along the reduction axis (0: per channel or per tensor; 32 for the
    /// layers stored as <see cref="WeightStorage.MatMulNBits"/>).
    /// </summary>
    public int BlockSize { get; init; }

    /// <summary>
    /// Int4 weights stored as <see cref="WeightStorage.MatMulNBits"/> with a zero point per block (levels 0 to 15 over the
    /// block's min/max, as ONNX Runtime's quantizer with is_symmetric false), instead of symmetric levels ±7.
    /// </summary>
    public bool AsymmetricWeights { get; init; }

    /// <summary>
    /// Int4 weights stored as <see cref="WeightStorage.MatMulNBits"/>: the nodes' <c>accuracy_level</c>
    /// (<see cref="MatMulNBitsOptions.AccuracyLevel"/>; 0, the default, computes in float; 4 multiplies int8 activations in integers).
    /// </summary>
    public int AccuracyLevel { get; init; }

    public ReduceRange ReduceRange { get; init; } = ReduceRange.Auto;

    /// <summary>
    /// The op types to quantize, as ONNX Runtime's <c>op_types_to_quantize</c>; null: every op type the mode quantizes
    /// (<see cref="QuantizeOpTypes.Static"/>, <see cref="QuantizeOpTypes.Dynamic"/>). An op type the mode cannot quantize is refused.
    /// </summary>
    public IReadOnlyList<string>? OpTypes { get; init; }

    /// <summary>
    /// Only MatMuls whose B is a constant are quantized (ONNX Runtime's <c>MatMulConstBOnly</c>); null: that quantizer's
    /// default for the mode — static false (the MatMuls of two activations, attention's Q·Kᵀ and attention·V, are quantized
    /// too), dynamic true (the only kind dynamic mode quantizes).
    /// </summary>
    public bool? MatMulConstBOnly { get; init; }

    /// <summary>
    /// Activation ranges made symmetric around zero (ONNX Runtime's <c>ActivationSymmetric</c>): uint8 with zero point 128,
    /// int8 with zero point 0; false: asymmetric (uint8 or int8 with the zero point from the range). Null: uint8
    /// asymmetric, int8 symmetric. Static mode only (dynamic activations are DynamicQuantizeLinear's: uint8 asymmetric).
    /// </summary>
    public bool? ActivationSymmetric { get; init; }

    /// <summary>
    /// The output cosine to the float model (the lowest over its outputs) static quantization must reach on the
    /// calibration samples, those the fallback chose on and those it held out (<see cref="FallbackHoldOut"/>): when every
    /// layer quantized falls short, the fewest most sensitive things are kept in float (<see cref="QuantizationFallback"/>;
    /// listed in <see cref="QuantizeResult.Fallback"/>), and when none does, an <see cref="OptionsException"/>. Null: no
    /// target, nothing measured.
    /// </summary>
    public double? MinFidelity { get; init; }

    /// <summary>
    /// The fraction of the calibration samples (a seeded split, at least one each side) <see cref="MinFidelity"/>'s
    /// fallback holds out: it chooses what to keep in float on the others, then keeps the next most costly in float too
    /// until the held-out ones also reach the target — the one-sided 95 % bound of their mean cosine for as many other inputs
    /// (<see cref="QuantizationFallbackReport.HeldOutLowerBound"/>) — so the target holds on samples the choice did not see
    /// (not only by construction). 0: it chooses and reports on every calibration sample. Every sample's ranges are
    /// calibrated either way.
    /// </summary>
    public double FallbackHoldOut { get; init; } = 0.5;

    /// <summary>What <see cref="MinFidelity"/>'s fallback keeps in float: activation tensors (the default) or whole layers.</summary>
    public FallbackUnit FallbackUnit { get; init; } = FallbackUnit.Tensor;

    /// <summary>
    /// Activation tensors kept in float (no Q/DQ pair; the layers that read and write them keep their quantized weights),
    /// by the names of the model after BatchNorm folding, as <see cref="QuantizationFallbackReport.KeptTensors"/> lists them.
    /// </summary>
    public IReadOnlyList<string> FloatTensors { get; init; } = Array.Empty<string>();

    /// <summary>True for weight-only quantization (static, activations float).</summary>
    [JsonIgnore]
    public bool WeightOnly => Mode == QuantizeMode.Static && Activations == ActivationPrecision.Float;

    /// <summary>Static quantization with quantized activations needs calibration samples.</summary>
    [JsonIgnore]
    public bool Calibrates => Mode == QuantizeMode.Static && Activations != ActivationPrecision.Float;

    /// <summary>
    /// Checks the options (<see cref="OptionsException"/>, naming the property: <see cref="OptionsException.For"/>);
    /// returns them.
    /// </summary>
    public QuantizeOptions Validate()
    {
        ValidateValues();
        if (Mode == QuantizeMode.Dynamic && Activations != ActivationPrecision.UInt8)
            throw new OptionsException("dynamic quantization quantizes activations to uint8 at run time (DynamicQuantizeLinear); activations int8 or float do not apply");
        if (Mode == QuantizeMode.Dynamic && MatMulConstBOnly == false)
            throw OptionsException.For(nameof(MatMulConstBOnly), "cannot be false in dynamic mode: it quantizes MatMuls with a constant B only (as ONNX Runtime's quantize_dynamic does by default); quantize statically for the MatMuls of two activations");
        if (ActivationSymmetric is not null && !Calibrates)
            throw OptionsException.For(nameof(ActivationSymmetric), Mode == QuantizeMode.Dynamic
                ? "does not apply to dynamic mode, whose activations DynamicQuantizeLinear quantizes to uint8 asymmetric at run time; leave it unset"
                : "does not apply to float activations (weight-only quantization); leave it unset");
        if (AsymmetricWeights && !(WeightOnly && Storage == WeightStorage.MatMulNBits && (Weights == WeightPrecision.Int4 || Layers?.Values.Contains(WeightPrecision.Int4) == true)))
            throw OptionsException.For(nameof(AsymmetricWeights), "applies to int4 weights stored for MatMulNBits (weight-only: activations float, storage MatMulNBits, weights int4)");
        if (AccuracyLevel is < 0 or > 4) throw OptionsException.For(nameof(AccuracyLevel), $"must be 0 to 4 (MatMulNBits' accuracy_level), got {AccuracyLevel}");
        if (AccuracyLevel != 0 && !(WeightOnly && Storage == WeightStorage.MatMulNBits && (Weights == WeightPrecision.Int4 || Layers?.Values.Contains(WeightPrecision.Int4) == true)))
            throw OptionsException.For(nameof(AccuracyLevel), "applies to int4 weights stored for MatMulNBits (weight-only: activations float, storage MatMulNBits, weights int4)");
        if (FloatTensors.Count > 0 && !Calibrates) throw OptionsException.For(nameof(FloatTensors), "applies to static quantization with quantized activations; leave it empty");
        ToPassOptions();
        return this;
    }

    /// <summary>Checks each value on its own (not how they combine); returns the options.</summary>
    public QuantizeOptions ValidateValues()
    {
        if (!Enum.IsDefined(Mode)) throw OptionsException.For(nameof(Mode), $"must be static or dynamic, got {Mode}");
        if (Weights == WeightPrecision.Float || !Enum.IsDefined(Weights))
            throw OptionsException.For(nameof(Weights), $"must be int8, int4, ternary or binary, got {Weights}; keep layers in float with Exclude or Layers");
        if (!Enum.IsDefined(Activations)) throw OptionsException.For(nameof(Activations), $"must be uint8, int8 or float, got {Activations}");
        if (!Enum.IsDefined(Storage)) throw OptionsException.For(nameof(Storage), $"must be int4, int8 or MatMulNBits, got {Storage}");
        if (Calibrates && CalibrationSamples < 1) throw OptionsException.For(nameof(CalibrationSamples), $"must be at least 1, got {CalibrationSamples}");
        if (!(Percentile > 50 && Percentile <= 100)) throw OptionsException.For(nameof(Percentile), $"must be in (50, 100], got {Percentile}");
        if (BlockSize < 0 || BlockSize == 1) throw OptionsException.For(nameof(BlockSize), $"must be 2 or more (or 0 for none), got {BlockSize}");
        if (MinFidelity is { } f && !(f > 0 && f <= 1)) throw OptionsException.For(nameof(MinFidelity), $"is an output cosine, in (0, 1]; got {f}");
        if (!(FallbackHoldOut >= 0 && FallbackHoldOut < 1)) throw OptionsException.For(nameof(FallbackHoldOut), $"is the fraction of the calibration samples held out, in [0, 1); got {FallbackHoldOut}");
        if (!Enum.IsDefined(FallbackUnit)) throw OptionsException.For(nameof(FallbackUnit), $"must be tensor or layer, got {FallbackUnit}");
        QuantizeOpTypes.Check(Mode, OpTypes);
        foreach (var (layer, precision) in Layers ?? new Dictionary<string, WeightPrecision>())
            if (!Enum.IsDefined(precision)) throw OptionsException.For(nameof(Layers), $"give layer '{Text.Message.Name(layer)}' int8, int4, ternary, binary or float, not {precision}");
        return this;
    }

    /// <summary>The options of the passes (<see cref="QuantizeStaticPass"/>, <see cref="QuantizeDynamicPass"/>), validated.</summary>
    public QuantizationOptions ToPassOptions() => new QuantizationOptions
    {
        PerChannel = PerChannel,
        Activations = Activations switch { ActivationPrecision.Int8 => DataType.Int8, ActivationPrecision.Float => DataType.Float, _ => DataType.UInt8 },
        Calibration = Calibration,
        Percentile = Percentile,
        Exclude = Exclude.ToHashSet(),
        FloatTensors = FloatTensors.ToHashSet(),
        WeightBits = (int)Weights,
        LayerBits = Layers?.ToDictionary(kv => kv.Key, kv => (int)kv.Value),
        LowBitStorage = Storage == WeightStorage.Int8 ? DataType.Int8 : DataType.Int4,
        BlockSize = BlockSize,
        ReduceRange = ReduceRange,
        OpTypes = (OpTypes ?? QuantizeOpTypes.For(Mode)).ToHashSet(),
        MatMulConstBOnly = MatMulConstBOnly ?? Mode == QuantizeMode.Dynamic,
        ActivationSymmetric = ActivationSymmetric,
        MatMulNBits = WeightOnly && Storage == WeightStorage.MatMulNBits
            ? new MatMulNBitsOptions { BlockSize = BlockSize > 0 ? BlockSize : new MatMulNBitsOptions().BlockSize, Asymmetric = AsymmetricWeights, AccuracyLevel = AccuracyLevel, Exclude = Exclude.ToHashSet() }
            : null,
    }.Validate();

    /// <summary>Checks that every node <see cref="Exclude"/> and <see cref="Layers"/> name is in <paramref name="model"/>.</summary>
    public void CheckNames(Model model)
    {
        var missing = Exclude.Where(n => model.Graph.FindNode(n) is null).ToList();
        if (missing.Count > 0)
            throw new OptionsException($"the nodes to keep in float include {Text.Message.List(missing.Select(n => $"'{Text.Message.Name(n)}'"))}, which the model does not have");
        if (Layers?.Keys.FirstOrDefault(n => model.Graph.FindNode(n) is null) is { } layer)
            throw new OptionsException($"the layer precisions name layer '{Text.Message.Name(layer)}', which the model does not have");
    }

    /// <summary>The calibration method as the CLI and the notes write it: minmax, percentile or entropy.</summary>
    public static string Describe(CalibrationMethod method) => method switch
    {
        CalibrationMethod.Percentile => "percentile",
        CalibrationMethod.Entropy => "entropy",
        _ => "minmax",
    };
}
