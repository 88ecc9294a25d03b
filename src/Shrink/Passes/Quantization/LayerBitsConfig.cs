namespace Shrink.Passes.Quantization;

/// <summary>
/// Precision names of mixed precision (<see cref="QuantizeOptions.Layers"/>): int8, int4, ternary, binary, float
/// (also 8, 4, 2, 1, 32 and fp32). Reading a file of them is the caller's part (the CLI's <c>--layers</c>).
/// </summary>
public static class LayerBitsConfig
{
    /// <summary>Bits of a precision name (0 for float), or null when it is not one.</summary>
    public static int? Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "int8" or "8" => 8,
        "int4" or "4" => 4,
        "ternary" or "2" => 2,
        "binary" or "1" => 1,
        "float" or "32" or "fp32" => 0,
        _ => null,
    };
}
