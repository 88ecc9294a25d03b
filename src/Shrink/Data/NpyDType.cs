namespace Shrink.Data;

/// <summary>The element types <see cref="NpyFile"/> reads and writes (all little-endian).</summary>
public enum NpyDType
{
    /// <summary>numpy <c>&lt;f4</c>.</summary>
    Float32,
    /// <summary>numpy <c>&lt;f8</c>.</summary>
    Float64,
    /// <summary>numpy <c>&lt;f2</c>.</summary>
    Float16,
    /// <summary>numpy <c>&lt;i8</c>.</summary>
    Int64,
    /// <summary>numpy <c>&lt;i4</c>.</summary>
    Int32,
    /// <summary>numpy <c>|i1</c>.</summary>
    Int8,
    /// <summary>numpy <c>|u1</c>.</summary>
    UInt8,
    /// <summary>numpy <c>|b1</c>.</summary>
    Bool,
}

/// <summary>numpy descriptors and sizes of <see cref="NpyDType"/> values.</summary>
public static class NpyDTypes
{
    private static readonly (NpyDType Type, string Descr, int Size)[] Table =
    [
        (NpyDType.Float32, "<f4", 4), (NpyDType.Float64, "<f8", 8), (NpyDType.Float16, "<f2", 2),
        (NpyDType.Int64, "<i8", 8), (NpyDType.Int32, "<i4", 4), (NpyDType.Int8, "|i1", 1),
        (NpyDType.UInt8, "|u1", 1), (NpyDType.Bool, "|b1", 1),
    ];

    /// <summary>The numpy descriptor numpy itself writes, e.g. <c>&lt;f4</c> or <c>|u1</c>.</summary>
    public static string Descr(this NpyDType type) => Entry(type).Descr;

    /// <summary>Bytes per element.</summary>
    public static int ItemSize(this NpyDType type) => Entry(type).Size;

    /// <summary>
    /// Parses a descriptor; the byte-order character may be <c>&lt;</c> or <c>|</c>
    /// (numpy writes <c>|</c> for one-byte types). Returns false for anything else.
    /// </summary>
    public static bool TryParse(string descr, out NpyDType type)
    {
        type = default;
        if (descr.Length < 2 || (descr[0] != '<' && descr[0] != '|'))
            return false;
        foreach (var entry in Table)
        {
            if (entry.Descr.AsSpan(1).SequenceEqual(descr.AsSpan(1)))
            {
                type = entry.Type;
                return true;
            }
        }
        return false;
    }

    /// <summary>The supported descriptors, comma-separated, for error messages.</summary>
    internal static string Supported => string.Join(", ", Table.Select(e => e.Descr));

    private static (NpyDType Type, string Descr, int Size) Entry(NpyDType type)
        => Array.Find(Table, e => e.Type == type) is { Descr: not null } e ? e
            : throw new ArgumentOutOfRangeException(nameof(type), type, "unknown NpyDType");
}
