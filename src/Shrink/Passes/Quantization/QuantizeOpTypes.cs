using Shrink.Ops;

namespace Shrink.Passes.Quantization;

/// <summary>
/// The op types each quantization mode quantizes, the defaults of <see cref="QuantizeOptions.OpTypes"/> (ONNX Runtime's
/// <c>op_types_to_quantize</c>, whose default is likewise every op type its quantizer knows for the mode).
/// </summary>
public static class QuantizeOpTypes
{
    /// <summary>
    /// Static QDQ: the layers (Conv, Gemm, MatMul, the op registry's <see cref="QuantizationRole.Weighted"/>), the ops between
    /// quantized layers (<see cref="QuantizationRole.SameScale"/>, <see cref="QuantizationRole.Requantizing"/>) and the
    /// activations folded into a layer's output range (Relu, Clip). Everything else stays float.
    /// </summary>
    public static IReadOnlyList<string> Static { get; } = OpRoles.OpsWith(QuantizationRole.Weighted)
        .Concat(OpRoles.OpsWith(QuantizationRole.SameScale)).Concat(OpRoles.OpsWith(QuantizationRole.Requantizing))
        .Concat(new[] { "Relu", "Clip" }).Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Dynamic: Conv (ConvInteger), MatMul and Gemm (MatMulInteger), each with constant weights, and Gather of a constant
    /// table (an embedding: int8 table → Gather → DequantizeLinear), as <c>quantize_dynamic</c>'s registry has them.
    /// </summary>
    public static IReadOnlyList<string> Dynamic { get; } = new[] { "Conv", "Gather", "Gemm", "MatMul" };

    /// <summary>The op types <paramref name="mode"/> quantizes.</summary>
    public static IReadOnlyList<string> For(QuantizeMode mode) => mode == QuantizeMode.Dynamic ? Dynamic : Static;

    /// <summary>
    /// Checks a selection for <paramref name="mode"/> (null: the default, all of them): an <see cref="OptionsException"/>
    /// naming <see cref="QuantizeOptions.OpTypes"/> for an empty one or one naming an op type the mode cannot quantize.
    /// </summary>
    public static void Check(QuantizeMode mode, IReadOnlyList<string>? opTypes)
    {
        if (opTypes is null) return;
        var known = For(mode);
        var name = mode == QuantizeMode.Dynamic ? "dynamic" : "static";
        if (opTypes.Count == 0) throw OptionsException.For(nameof(QuantizeOptions.OpTypes), $"names no op type; name some of {string.Join(", ", known)}, or leave it unset for all");
        var unknown = opTypes.Where(t => !known.Contains(t, StringComparer.Ordinal)).Distinct().ToList();
        if (unknown.Count > 0)
            throw OptionsException.For(nameof(QuantizeOptions.OpTypes), $"names {Text.Message.List(unknown.Select(t => $"'{Text.Message.Name(t)}'"))}, " +
                $"which {name} quantization cannot quantize; it quantizes {string.Join(", ", known)} (op types are case-sensitive)");
    }
}
