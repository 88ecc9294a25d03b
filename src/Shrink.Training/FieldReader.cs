using System.Buffers.Binary;
using System.Text;

namespace Shrink.Training;

/// <summary>
/// Reads the little-endian fields of a checkpoint held in memory: each value is checked against the
/// range it must lie in and each length against the bytes left before anything is allocated; a field
/// out of range is a <see cref="CheckpointException"/> naming it and its byte offset.
/// </summary>
internal sealed class FieldReader
{
    private readonly string _path;
    private readonly byte[] _bytes;
    private readonly int _end;

    public FieldReader(string path, byte[] bytes, int end) => (_path, _bytes, _end) = (path, bytes, end);

    public int Position { get; set; }
    public int Remaining => _end - Position;

    /// <summary>A corruption found at the current offset.</summary>
    public CheckpointException Corrupt(string problem) =>
        new(_path, $"is corrupt ({problem})", RunAdvice.Afresh);

    public int Int32(string field, int min, int max) => (int)Int64Of(field, 4, min, max);

    public long Int64(string field, long min, long max) => Int64Of(field, 8, min, max);

    public byte[] Bytes(long length, string field)
    {
        if (length > Remaining) throw Corrupt($"{field} at byte {Position} needs {length} bytes; {Remaining} are left");
        var result = _bytes.AsSpan(Position, (int)length).ToArray();
        Position += (int)length;
        return result;
    }

    public string Utf8(int length, string field)
    {
        var at = Position;
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Bytes(length, field)); }
        catch (DecoderFallbackException) { throw Corrupt($"{field} at byte {at} is not UTF-8"); }
    }

    private long Int64Of(string field, int size, long min, long max)
    {
        var at = Position;
        var raw = Bytes(size, field);
        var value = size == 4 ? BinaryPrimitives.ReadInt32LittleEndian(raw) : BinaryPrimitives.ReadInt64LittleEndian(raw);
        if (value < min || value > max)
            throw Corrupt($"{field} at byte {at} is {value}; {(min == max ? $"this run's is {min}" : $"it must be in [{min}, {max}]")}");
        return value;
    }
}
