namespace Shrink.Ir;

/// <summary>Element types, with the numeric codes of ONNX's <c>TensorProto.DataType</c>.</summary>
public enum DataType
{
    Undefined = 0, Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7,
    String = 8, Bool = 9, Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, Complex64 = 14,
    Complex128 = 15, BFloat16 = 16, Float8E4M3FN = 17, Float8E4M3FNUZ = 18, Float8E5M2 = 19,
    Float8E5M2FNUZ = 20, UInt4 = 21, Int4 = 22, Float4E2M1 = 23, Float8E8M0 = 24,
}

/// <summary>Sizes and names of <see cref="DataType"/> values.</summary>
public static class DataTypes
{
    /// <summary>Bits per element; 0 for strings and undefined or unknown codes.</summary>
    public static int BitWidth(this DataType t) => t switch
    {
        DataType.Float or DataType.Int32 or DataType.UInt32 => 32,
        DataType.Double or DataType.Int64 or DataType.UInt64 or DataType.Complex64 => 64,
        DataType.Complex128 => 128,
        DataType.Int16 or DataType.UInt16 or DataType.Float16 or DataType.BFloat16 => 16,
        DataType.Int8 or DataType.UInt8 or DataType.Bool or DataType.Float8E4M3FN or DataType.Float8E4M3FNUZ
            or DataType.Float8E5M2 or DataType.Float8E5M2FNUZ or DataType.Float8E8M0 => 8,
        DataType.Int4 or DataType.UInt4 or DataType.Float4E2M1 => 4,
        _ => 0,
    };

    /// <summary>True for types whose elements are packed two per byte.</summary>
    public static bool IsSubByte(this DataType t) => t.BitWidth() == 4;

    /// <summary>True for the floating-point types.</summary>
    public static bool IsFloat(this DataType t) => t is DataType.Float or DataType.Double or DataType.Float16
        or DataType.BFloat16 or DataType.Float8E4M3FN or DataType.Float8E4M3FNUZ or DataType.Float8E5M2
        or DataType.Float8E5M2FNUZ or DataType.Float4E2M1 or DataType.Float8E8M0;

    /// <summary>Bytes needed to store <paramref name="count"/> elements packed (sub-byte types round up).</summary>
    public static long ByteCount(this DataType t, long count) => checked(t.BitWidth() * count + 7) / 8;

    /// <summary>Whether the code is one this library knows.</summary>
    public static bool IsKnown(this DataType t) => Enum.IsDefined(t) && t != DataType.Undefined;

    /// <summary>Lower-case short name: float32, int64, uint8, int4, ...</summary>
    public static string ShortName(this DataType t) => t switch
    {
        DataType.Float => "float32",
        DataType.Double => "float64",
        DataType.Float16 => "float16",
        DataType.BFloat16 => "bfloat16",
        _ when Enum.IsDefined(t) => t.ToString().ToLowerInvariant(),
        _ => $"dtype#{(int)t}",
    };
}
