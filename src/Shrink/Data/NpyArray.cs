using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Shrink.Data;

/// <summary>
/// An n-dimensional array as stored in a <c>.npy</c> file: element type, shape, and the raw
/// little-endian bytes in C (row-major) order. A 0-d array has an empty shape and one element.
/// </summary>
public sealed class NpyArray
{
    /// <summary>Wraps <paramref name="data"/> (not copied); its length must be the element count times the item size.</summary>
    /// <exception cref="ArgumentException">A negative dimension, or data of the wrong length.</exception>
    public NpyArray(NpyDType dtype, long[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (shape.Any(d => d < 0))
            throw new ArgumentException($"shape ({string.Join(", ", shape)}) has a negative dimension", nameof(shape));
        var bytes = NpyHeader.DataBytes(dtype, shape);
        if (bytes != data.Length)
            throw new ArgumentException($"{data.Length} bytes do not hold the {bytes / dtype.ItemSize()} {dtype} elements of shape ({string.Join(", ", shape)})", nameof(data));
        (DType, Shape, Data, Count) = (dtype, shape, data, data.Length / dtype.ItemSize());
    }

    /// <summary>The element type.</summary>
    public NpyDType DType { get; }

    /// <summary>The numpy descriptor of <see cref="DType"/>, e.g. <c>&lt;f4</c>.</summary>
    public string Descr => DType.Descr();

    /// <summary>The dimensions; empty for a 0-d (scalar) array.</summary>
    public long[] Shape { get; }

    /// <summary>The elements, little-endian, C order.</summary>
    public byte[] Data { get; }

    /// <summary>Number of elements (the product of <see cref="Shape"/>).</summary>
    public long Count { get; }

    /// <summary>Wraps float32 values; <paramref name="shape"/> must multiply to their count.</summary>
    public static NpyArray FromFloat32(float[] data, long[] shape)
        => new(NpyDType.Float32, shape, MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    /// <summary>Wraps int64 values; <paramref name="shape"/> must multiply to their count.</summary>
    public static NpyArray FromInt64(long[] data, long[] shape)
        => new(NpyDType.Int64, shape, MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    /// <summary>The elements converted to float32 (any element type; bool becomes 0 or 1).</summary>
    public float[] ToFloat32() => DType switch
    {
        NpyDType.Float32 => Map<float, float>(v => v),
        NpyDType.Float64 => Map<double, float>(v => (float)v),
        NpyDType.Float16 => Map<Half, float>(v => (float)v),
        NpyDType.Int64 => Map<long, float>(v => v),
        NpyDType.Int32 => Map<int, float>(v => v),
        NpyDType.Int8 => Map<sbyte, float>(v => v),
        NpyDType.UInt8 or NpyDType.Bool => Map<byte, float>(v => v),
        _ => throw new UnreachableException(),
    };

    /// <summary>The elements converted to int64; only for integer and bool element types.</summary>
    /// <exception cref="InvalidOperationException">The elements are floating point.</exception>
    public long[] ToInt64() => DType switch
    {
        NpyDType.Int64 => Map<long, long>(v => v),
        NpyDType.Int32 => Map<int, long>(v => v),
        NpyDType.Int8 => Map<sbyte, long>(v => v),
        NpyDType.UInt8 or NpyDType.Bool => Map<byte, long>(v => v),
        _ => throw new InvalidOperationException($"cannot convert {Descr} elements to int64 exactly; use ToFloat32"),
    };

    /// <inheritdoc/>
    public override string ToString() => $"{Descr} ({string.Join(", ", Shape)}{(Shape.Length == 1 ? "," : "")})";

    private TOut[] Map<TIn, TOut>(Func<TIn, TOut> convert) where TIn : unmanaged
    {
        Debug.Assert(BitConverter.IsLittleEndian, "npy data is little-endian; big-endian hosts are not supported");
        var source = MemoryMarshal.Cast<byte, TIn>(Data);
        var result = new TOut[source.Length];
        for (int i = 0; i < result.Length; i++)
            result[i] = convert(source[i]);
        return result;
    }
}
