namespace Shrink.Passes.Precision;

/// <summary>A 16-bit floating-point format.</summary>
public enum HalfFormat
{
    /// <summary>IEEE 754 half: 5 exponent bits, 10 mantissa bits, largest finite value 65504.</summary>
    Float16,

    /// <summary>bfloat16: float32's 8 exponent bits, 7 mantissa bits (float32 rounded to its upper 16 bits).</summary>
    BFloat16,
}

/// <summary>Options of <c>convert-precision</c>.</summary>
public sealed record PrecisionOptions
{
    public HalfFormat Format { get; init; } = HalfFormat.Float16;

    /// <summary>
    /// Also compute in half precision: the ops ONNX Runtime's CPU provider runs in that format read and write it, the
    /// others stay float32 behind Cast nodes. False stores the weights in half precision and computes in float32.
    /// </summary>
    public bool Compute { get; init; }

    /// <summary>Keep the graph's inputs and outputs float32 (Cast nodes at the edges); false makes them half precision too (with <see cref="Compute"/>).</summary>
    public bool KeepIoTypes { get; init; } = true;

    /// <summary>Op types that stay float32 whatever ONNX Runtime offers (onnxconverter-common's <c>op_block_list</c>).</summary>
    public IReadOnlySet<string>? FloatOps { get; init; }

    /// <summary>The format named <paramref name="text"/>: fp16 (float16) or bf16 (bfloat16), any case.</summary>
    public static HalfFormat ParseFormat(string text) => text.ToLowerInvariant() switch
    {
        "fp16" or "float16" => HalfFormat.Float16,
        "bf16" or "bfloat16" => HalfFormat.BFloat16,
        _ => throw new OptionsException(Text.OptionText.Of($"{Text.OptionName.Of(nameof(Format))} '{Text.Message.Name(text)}' must be fp16 or bf16")),
    };

    public PrecisionOptions Validate()
    {
        if (!KeepIoTypes && !Compute) throw OptionsException.For(nameof(KeepIoTypes), "can be false only when computing in half precision (the inputs and outputs of a model that computes in float32 stay float32)");
        return this;
    }
}
