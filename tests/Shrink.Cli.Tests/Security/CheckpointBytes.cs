using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Shrink.Cli.Tests.Security;

/// <summary>
/// A checkpoint's bytes, read with the test's own knowledge of the format (magic, version, header,
/// tensors, SHA-256 trailer) so that tests can damage a field and, to forge a file, recompute the checksum.
/// </summary>
internal sealed class CheckpointBytes
{
    public CheckpointBytes(byte[] data) => Data = data;

    public byte[] Data { get; private set; }

    public static CheckpointBytes Read(string path) => new(File.ReadAllBytes(path));

    public void Write(string path) => File.WriteAllBytes(path, Data);

    public const int HeaderStart = 16;
    public int HeaderLength => BinaryPrimitives.ReadInt32LittleEndian(Data.AsSpan(12));
    public string Header => Encoding.UTF8.GetString(Data, HeaderStart, HeaderLength);
    public int TensorCountOffset => HeaderStart + HeaderLength;

    /// <summary>Offset of the first occurrence of <paramref name="text"/> in the header.</summary>
    public int InHeader(string text)
    {
        var at = Header.IndexOf(text, StringComparison.Ordinal);
        Xunit.Assert.True(at >= 0, $"'{text}' is not in the header");
        return HeaderStart + Encoding.UTF8.GetByteCount(Header[..at]);
    }

    /// <summary>Offsets of the first tensor's fields: name length, element type, rank, data length, data.</summary>
    public (int NameLength, int Type, int Rank, int DataLength, int Data) FirstTensor()
    {
        var nameLength = TensorCountOffset + 4;
        var type = nameLength + 4 + BinaryPrimitives.ReadInt32LittleEndian(Data.AsSpan(nameLength));
        var rank = type + 4;
        var dataLength = rank + 4 + 8 * BinaryPrimitives.ReadInt32LittleEndian(Data.AsSpan(rank));
        return (nameLength, type, rank, dataLength, dataLength + 8);
    }

    public void FlipBit(int offset, int bit) => Data[offset] ^= (byte)(1 << bit);

    public void SetInt32(int offset, int value) => BinaryPrimitives.WriteInt32LittleEndian(Data.AsSpan(offset), value);

    public void SetInt64(int offset, long value) => BinaryPrimitives.WriteInt64LittleEndian(Data.AsSpan(offset), value);

    public void Truncate(int length) => Data = Data[..length];

    /// <summary>Recomputes the SHA-256 trailer, as a forger would.</summary>
    public void Reseal() => SHA256.HashData(Data.AsSpan(0, Data.Length - 32)).CopyTo(Data.AsSpan(Data.Length - 32));
}
