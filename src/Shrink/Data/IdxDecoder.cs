using System.Buffers.Binary;
using System.IO.Compression;

namespace Shrink.Data;

/// <summary>
/// Reads one IDX file, raw or gzip'd, without trusting it: the header comes first, its dimensions are
/// multiplied overflow-free and held to <see cref="MaxDataBytes"/>, and then exactly the bytes the
/// header declares are read, plus one to see whether more follow. A gzip stream that inflates past
/// its header (a decompression bomb) is refused after that one byte, so memory and time stay bounded
/// by the header, never by what the stream would inflate to.
/// </summary>
internal static class IdxDecoder
{
    /// <summary>The most data bytes Shrink reads from one IDX file (1 GiB; Fashion-MNIST's largest file holds 47 MB).</summary>
    public const long MaxDataBytes = 1L << 30;

    /// <summary>The dimensions and the data bytes of an IDX file whose magic must be <paramref name="magic"/>.</summary>
    public static (int[] Dims, byte[] Data) Read(Stream stream, int magic, string kind, string name)
    {
        if (!stream.CanSeek)
            stream = new MemoryStream(DataFiles.ReadAllBytes(stream), writable: false);
        bool gzip = IsGzip(stream);
        using var gz = gzip ? new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true) : null;
        try
        {
            return Read(gz ?? stream, gzip ? null : stream.Length - stream.Position, magic, kind, name);
        }
        catch (InvalidDataException e)
        {
            throw new DataException($"'{name}' is not a valid gzip stream ({e.Message}); re-download the file", e);
        }
    }

    /// <summary>
    /// Reads header and data from the decompressed <paramref name="input"/>; <paramref name="length"/> is its
    /// length when known (a raw file), so that a short or long file is refused before the data is allocated.
    /// </summary>
    private static (int[] Dims, byte[] Data) Read(Stream input, long? length, int magic, string kind, string name)
    {
        var dims = ReadHeader(input, magic, kind, name);
        var shape = string.Join('x', dims);
        var expected = DataBytes(dims, kind, shape, name);
        long? available = length - (4 + 4 * dims.Length);
        if (available < expected)
            throw Truncated(name, shape, kind, expected, available.Value);
        if (available > expected)
            throw new DataException($"'{name}' has {available - expected} bytes after the {shape} {kind} bytes its header declares; the file is corrupt, re-download it");
        var data = new byte[expected];
        int read = input.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        if (read < expected)
            throw Truncated(name, shape, kind, expected, read);
        if (input.ReadByte() >= 0)
            throw new DataException($"'{name}' inflates to more than the {shape} {kind} bytes ({expected}) its header declares; the file is corrupt or a decompression bomb, re-download it");
        return (dims, data);
    }

    /// <summary>Reads and checks magic and dimensions (the first may be 0: an empty file of samples).</summary>
    private static int[] ReadHeader(Stream input, int magic, string kind, string name)
    {
        int rank = magic & 0xFF;
        var header = new byte[4 + 4 * rank];
        int read = input.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        int found = read >= 4 ? BinaryPrimitives.ReadInt32BigEndian(header) : magic;
        if (found != magic)
            throw new DataException($"'{name}' is not an IDX {kind} file: magic 0x{found:X8}, expected 0x{magic:X8}; pass an IDX {kind} file");
        if (read < header.Length)
            throw new DataException($"'{name}' is truncated: {read} bytes, too short for an IDX {kind} header; re-download the file");
        var dims = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 + 4 * d));
            if (dims[d] < 0 || (d > 0 && dims[d] == 0))
                throw new DataException($"'{name}' has a bad IDX header: dimension {d} is {dims[d]}; the file is corrupt, re-download it");
        }
        return dims;
    }

    /// <summary>The product of the dimensions, refused above <see cref="MaxDataBytes"/> (three int32 dimensions can overflow a long).</summary>
    private static int DataBytes(int[] dims, string kind, string shape, string name)
    {
        Int128 bytes = 1;
        foreach (var d in dims)
            bytes *= d;
        if (bytes > MaxDataBytes)
            throw new DataException($"'{name}' declares {shape} {kind} bytes ({bytes}), more than the {MaxDataBytes} Shrink reads from one IDX file; the header is corrupt, re-download the file");
        return (int)bytes;
    }

    private static DataException Truncated(string name, string shape, string kind, long expected, long actual)
        => new($"'{name}' is truncated: its header declares {shape} {kind} bytes ({expected}) but only {actual} follow; re-download the file");

    /// <summary>Whether the stream starts with gzip's magic 1F 8B; the position is left where it was.</summary>
    private static bool IsGzip(Stream stream)
    {
        var start = stream.Position;
        Span<byte> magic = stackalloc byte[2];
        int read = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        stream.Position = start;
        return read == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
    }
}
