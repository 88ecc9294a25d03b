using System.Buffers.Binary;
using System.Globalization;

namespace Shrink.Container;

/// <summary>
/// Bounds-checked little-endian reads of one section's payload, in place (nothing is copied). Knows where the
/// payload sits in the file, so every refusal can name the byte offset.
/// </summary>
internal ref struct SectionReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly int _start;
    private readonly Func<string, string> _bad;
    private int _pos;

    /// <param name="data">The payload.</param>
    /// <param name="start">The payload's offset in the file.</param>
    /// <param name="bad">Turns a problem into the container's one-line message.</param>
    public SectionReader(ReadOnlySpan<byte> data, int start, Func<string, string> bad)
    {
        _data = data;
        _start = start;
        _bad = bad;
        _pos = 0;
    }

    /// <summary>The offset in the file of the next byte to be read.</summary>
    public readonly int Offset => _start + _pos;

    /// <summary>Bytes not yet read.</summary>
    public readonly int Remaining => _data.Length - _pos;

    /// <summary>The next <paramref name="n"/> bytes, in place.</summary>
    public ReadOnlySpan<byte> Take(long n)
    {
        if (n < 0 || n > Remaining)
            throw new ModelFormatException(_bad(string.Create(CultureInfo.InvariantCulture, $"a section ends early: {n:N0} bytes wanted at byte {Offset:N0}, {Remaining:N0} remain (truncated)")));
        var s = _data.Slice(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    public byte U8() => Take(1)[0];
    public int U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
    public float F32() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

    /// <summary>Refuses bytes left over after the last field.</summary>
    public readonly void End()
    {
        if (Remaining != 0) throw new ModelFormatException(_bad(string.Create(CultureInfo.InvariantCulture, $"{Remaining:N0} unexpected bytes at the end of a section, from byte {Offset:N0}")));
    }
}
