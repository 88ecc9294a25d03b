using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Shrink.Ir;
using Shrink.Onnx.Proto;

namespace Shrink.Onnx;

/// <summary>
/// Converts between <see cref="TensorProto"/> and <see cref="Tensor"/>: typed repeated fields
/// (<c>float_data</c>, <c>int32_data</c>, ...) and <c>raw_data</c> both become little-endian bytes,
/// and are written back in the form they came in, bit for bit.
/// </summary>
internal static class TensorCodec
{
    /// <summary>Decodes a tensor whose data is inline (raw or typed); external data is resolved by the caller.</summary>
    public static Tensor Decode(TensorProto p, string where)
    {
        var (type, dims, count, expected) = Header(p, where);
        if (type == DataType.String)
            return DecodeStrings(p, dims, count, where);
        if (!type.IsKnown())
            throw new ModelFormatException($"{where}: tensor '{p.Name}' has unknown data type {(int)type}");
        var storage = p.HasRawData ? TensorStorage.Raw : TensorStorage.Typed;
        var data = p.HasRawData ? TakeBytes(p) : FromTyped(p, type, count, where);
        if (data.LongLength != expected && !(p.DataLocation == TensorProto.Types.DataLocation.External))
            throw new ModelFormatException($"{where}: tensor '{p.Name}' ({type.ShortName()}[{string.Join(",", dims)}]) holds {data.LongLength} bytes of data, expected {expected}");
        return new Tensor(p.Name, type, dims, data, storage) { DocString = p.HasDocString ? p.DocString : null };
    }

    /// <summary>The tensor's type, shape, element count and expected bytes, checked.</summary>
    public static (DataType Type, long[] Dims, long Count, long Bytes) Header(TensorProto p, string where)
    {
        var type = (DataType)p.DataType;
        var dims = p.Dims.ToArray();
        if (dims.Any(d => d < 0))
            throw new ModelFormatException($"{where}: tensor '{p.Name}' has a negative dimension [{string.Join(",", dims)}]");
        try
        {
            var count = dims.Aggregate(1L, (a, d) => checked(a * d));
            return (type, dims, count, type.ByteCount(count));
        }
        catch (OverflowException) { throw new ModelFormatException($"{where}: tensor '{p.Name}' has an impossibly large shape [{string.Join(",", dims)}]"); }
    }

    /// <summary>
    /// The bytes of <c>raw_data</c>. Parsing gave the field an array of its own, exactly its size; that array is
    /// taken over (and the field cleared, so the message cannot be read through it again) rather than copied: a
    /// model read costs its weights once, not twice. Otherwise (a message built in memory) the bytes are copied.
    /// </summary>
    private static byte[] TakeBytes(TensorProto p)
    {
        if (MemoryMarshal.TryGetArray(p.RawData.Memory, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length && segment.Count > 0)
        {
            p.ClearRawData();
            return segment.Array;
        }
        return p.RawData.ToByteArray();
    }

    private static Tensor DecodeStrings(TensorProto p, long[] dims, long count, string where)
    {
        if (p.StringData.Count != count)
            throw new ModelFormatException($"{where}: string tensor '{p.Name}' holds {p.StringData.Count} strings, expected {count}");
        return new Tensor(p.Name, DataType.String, dims, Array.Empty<byte>(), TensorStorage.Typed)
        {
            Strings = p.StringData.Select(s => s.ToByteArray()).ToArray(),
            DocString = p.HasDocString ? p.DocString : null,
        };
    }

    /// <summary>Writes the tensor's data into <paramref name="p"/> in the tensor's storage form (inline only).</summary>
    public static void Encode(Tensor t, TensorProto p)
    {
        p.Name = t.Name;
        p.DataType = (int)t.DataType;
        p.Dims.AddRange(t.Dims);
        if (t.DocString is not null) p.DocString = t.DocString;
        if (t.DataType == DataType.String)
            p.StringData.AddRange(t.Strings!.Select(ByteString.CopyFrom));
        else if (t.Storage == TensorStorage.Typed)
            ToTyped(t, p);
        else
            // The bytes are wrapped, not copied: the message lives shorter than the tensor and never writes into them, so a clone
            // that shares them with its original stays shared (RawData would copy them first).
            p.RawData = UnsafeByteOperations.UnsafeWrap(t.IsLoaded ? t.SharedBytes : t.CopyBytes());
    }

    private static byte[] FromTyped(TensorProto p, DataType type, long count, string where)
    {
        switch (type)
        {
            case DataType.Float or DataType.Complex64:
                return MemoryMarshal.AsBytes(p.FloatData.ToArray().AsSpan()).ToArray();
            case DataType.Double or DataType.Complex128:
                return MemoryMarshal.AsBytes(p.DoubleData.ToArray().AsSpan()).ToArray();
            case DataType.Int64:
                return MemoryMarshal.AsBytes(p.Int64Data.ToArray().AsSpan()).ToArray();
            case DataType.UInt64:
                return MemoryMarshal.AsBytes(p.Uint64Data.ToArray().AsSpan()).ToArray();
            case DataType.UInt32:
                return MemoryMarshal.AsBytes(p.Uint64Data.Select(v => (uint)v).ToArray().AsSpan()).ToArray();
            case DataType.Int32:
                return MemoryMarshal.AsBytes(p.Int32Data.ToArray().AsSpan()).ToArray();
            default:
                return NarrowInt32Data(p, type);
        }
    }

    /// <summary>16-, 8- and 4-bit types keep one element (4-bit: one packed byte) per int32_data entry.</summary>
    private static byte[] NarrowInt32Data(TensorProto p, DataType type)
    {
        var src = p.Int32Data;
        if (type.BitWidth() == 16)
        {
            var dst = new byte[src.Count * 2];
            for (var i = 0; i < src.Count; i++) BinaryPrimitives.WriteUInt16LittleEndian(dst.AsSpan(2 * i), (ushort)src[i]);
            return dst;
        }
        var bytes = new byte[src.Count];
        for (var i = 0; i < src.Count; i++) bytes[i] = (byte)src[i];
        return bytes;
    }

    private static void ToTyped(Tensor t, TensorProto p)
    {
        var b = t.Bytes;
        switch (t.DataType)
        {
            case DataType.Float or DataType.Complex64: p.FloatData.AddRange(MemoryMarshal.Cast<byte, float>(b).ToArray()); break;
            case DataType.Double or DataType.Complex128: p.DoubleData.AddRange(MemoryMarshal.Cast<byte, double>(b).ToArray()); break;
            case DataType.Int64: p.Int64Data.AddRange(MemoryMarshal.Cast<byte, long>(b).ToArray()); break;
            case DataType.UInt64: p.Uint64Data.AddRange(MemoryMarshal.Cast<byte, ulong>(b).ToArray()); break;
            case DataType.UInt32: p.Uint64Data.AddRange(MemoryMarshal.Cast<byte, uint>(b).ToArray().Select(v => (ulong)v)); break;
            case DataType.Int32: p.Int32Data.AddRange(MemoryMarshal.Cast<byte, int>(b).ToArray()); break;
            case DataType.Int16: p.Int32Data.AddRange(MemoryMarshal.Cast<byte, short>(b).ToArray().Select(v => (int)v)); break;
            case DataType.Int8: p.Int32Data.AddRange(MemoryMarshal.Cast<byte, sbyte>(b).ToArray().Select(v => (int)v)); break;
            case var w when w.BitWidth() == 16: p.Int32Data.AddRange(MemoryMarshal.Cast<byte, ushort>(b).ToArray().Select(v => (int)v)); break;
            default: p.Int32Data.AddRange(b.ToArray().Select(v => (int)v)); break;
        }
    }
}
