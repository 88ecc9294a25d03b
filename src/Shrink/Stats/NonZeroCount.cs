using System.Numerics;
using System.Runtime.InteropServices;
using Shrink.Ir;

namespace Shrink.Stats;

/// <summary>
/// Counts a tensor's non-zero elements (−0.0 counts as zero; sub-byte types by nibble). A tensor still in its
/// external data file is read in chunks of <see cref="Tensor.ChunkBytes"/> and stays unloaded, so counting
/// a model's weights costs one chunk of memory, not the model.
/// </summary>
public static class NonZeroCount
{
    /// <summary>Elements of <paramref name="t"/> that are not zero (every element for types without a width, such as strings).</summary>
    public static long Of(Tensor t)
    {
        var bits = t.DataType.BitWidth();
        if (bits <= 0) return t.ElementCount;
        if (t.IsLoaded) return InBytes(t.Bytes, t.DataType, t.ElementCount);
        var chunk = (int)Math.Min(Tensor.ChunkBytes, t.ByteLength);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(chunk); // one buffer for every tensor counted, not one each
        try
        {
            long count = 0, elements = t.ElementCount, perByte = bits == 4 ? 2 : 1, size = Math.Max(1, bits / 8);
            for (long at = 0; at < t.ByteLength; at += chunk)
            {
                var part = buffer.AsSpan(0, (int)Math.Min(chunk, t.ByteLength - at));
                t.Read(at, part);
                var inPart = Math.Min(elements - at * perByte / size, part.Length * perByte / size);
                count += InBytes(part, t.DataType, inPart);
            }
            return count;
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>Non-zero elements among the first <paramref name="elements"/> of little-endian <paramref name="bytes"/> of <paramref name="type"/>.</summary>
    private static long InBytes(ReadOnlySpan<byte> bytes, DataType type, long elements)
    {
        switch (type.BitWidth())
        {
            case 4:
                long n4 = 0;
                for (var i = 0; i < elements; i++) if (((bytes[i / 2] >> (4 * (i % 2))) & 0xF) != 0) n4++;
                return n4;
            case 32 when type.IsFloat() || type is DataType.Int32 or DataType.UInt32:
                return elements - Zeros32(MemoryMarshal.Cast<byte, uint>(bytes[..(int)(elements * 4)]), type.IsFloat() ? 0x7FFF_FFFFu : 0xFFFF_FFFFu);
            case var bits:
                var size = bits / 8;
                long n = 0;
                for (var i = 0; i + size <= elements * size; i += size)
                    if (!IsZero(bytes.Slice(i, size), type)) n++;
                return n;
        }
    }

    /// <summary>Elements whose bits under <paramref name="mask"/> are all zero, a vector at a time.</summary>
    private static long Zeros32(ReadOnlySpan<uint> values, uint mask)
    {
        var m = new Vector<uint>(mask);
        var lanes = Vector<uint>.Zero;
        long zeros = 0;
        var i = 0;
        for (; i <= values.Length - Vector<uint>.Count; i += Vector<uint>.Count)
        {
            lanes -= Vector.Equals(new Vector<uint>(values[i..]) & m, Vector<uint>.Zero);  // all ones (−1) where zero
            if ((i & 0xFFFFF) == 0) { zeros += Vector.Sum(lanes); lanes = Vector<uint>.Zero; }  // no lane overflows
        }
        zeros += Vector.Sum(lanes);
        for (; i < values.Length; i++) if ((values[i] & mask) == 0) zeros++;
        return zeros;
    }

    /// <summary>Zero test on the element's bytes; −0.0 counts as zero for floats.</summary>
    internal static bool IsZero(ReadOnlySpan<byte> e, DataType type)
    {
        var signMask = type.IsFloat() ? 0x7F : 0xFF;
        for (var k = 0; k < e.Length - 1; k++) if (e[k] != 0) return false;
        return (e[^1] & signMask) == 0;
    }
}
