using System.Buffers.Binary;
using System.IO.Compression;

namespace Shrink.Data;

/// <summary>
/// Reads IDX files (the MNIST / Fashion-MNIST format): unsigned-byte images (magic 0x00000803,
/// dims N, rows, cols) and labels (magic 0x00000801, dim N). Gzip is detected by its magic bytes
/// 1F 8B, so <c>.gz</c> and raw files both work. Bad files raise <see cref="DataException"/>.
/// </summary>
public static class IdxReader
{
    /// <summary>Magic number of an IDX file of unsigned bytes with three dimensions.</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of an IDX file of unsigned bytes with one dimension.</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Reads an IDX image file from <paramref name="path"/>.</summary>
    public static IdxImages ReadImages(string path)
        => ParseImages(DataFiles.ReadAllBytes(path, "IDX image file"), path);

    /// <summary>Reads an IDX image file from <paramref name="stream"/>; <paramref name="name"/> names it in errors.</summary>
    public static IdxImages ReadImages(Stream stream, string name)
        => ParseImages(DataFiles.ReadAllBytes(stream), name);

    /// <summary>Reads an IDX label file from <paramref name="path"/>.</summary>
    public static int[] ReadLabels(string path)
        => ParseLabels(DataFiles.ReadAllBytes(path, "IDX label file"), path);

    /// <summary>Reads an IDX label file from <paramref name="stream"/>; <paramref name="name"/> names it in errors.</summary>
    public static int[] ReadLabels(Stream stream, string name)
        => ParseLabels(DataFiles.ReadAllBytes(stream), name);

    private static IdxImages ParseImages(byte[] file, string name)
    {
        var bytes = Decompress(file, name);
        var dims = ReadHeader(bytes, ImagesMagic, "image", name);
        var pixels = new float[bytes.Length - 16];
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = bytes[16 + i] / 255f;
        return new IdxImages(dims[0], dims[1], dims[2], pixels);
    }

    private static int[] ParseLabels(byte[] file, string name)
    {
        var bytes = Decompress(file, name);
        ReadHeader(bytes, LabelsMagic, "label", name);
        var labels = new int[bytes.Length - 8];
        for (int i = 0; i < labels.Length; i++)
            labels[i] = bytes[8 + i];
        return labels;
    }

    private static byte[] Decompress(byte[] file, string name)
    {
        if (file.Length < 2 || file[0] != 0x1F || file[1] != 0x8B)
            return file;
        try
        {
            using var gz = new GZipStream(new MemoryStream(file), CompressionMode.Decompress);
            return DataFiles.ReadAllBytes(gz);
        }
        catch (InvalidDataException e)
        {
            throw new DataException($"'{name}' is not a valid gzip stream ({e.Message}); re-download the file", e);
        }
    }

    /// <summary>Checks magic, dimensions and length; returns the dimensions.</summary>
    private static int[] ReadHeader(byte[] bytes, int magic, string kind, string name)
    {
        int rank = magic & 0xFF, headerLength = 4 + 4 * rank;
        int found = bytes.Length >= 4 ? BinaryPrimitives.ReadInt32BigEndian(bytes) : magic;
        if (found != magic)
            throw new DataException($"'{name}' is not an IDX {kind} file: magic 0x{found:X8}, expected 0x{magic:X8}; pass an IDX {kind} file");
        if (bytes.Length < headerLength)
            throw new DataException($"'{name}' is truncated: {bytes.Length} bytes, too short for an IDX {kind} header; re-download the file");
        var dims = new int[rank];
        Int128 expected = 1; // three int32 dims can overflow a long
        for (int d = 0; d < rank; d++)
        {
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * d));
            if (dims[d] < 0 || (d > 0 && dims[d] == 0))
                throw new DataException($"'{name}' has a bad IDX header: dimension {d} is {dims[d]}; the file is corrupt, re-download it");
            expected *= dims[d];
        }
        CheckLength(bytes.Length - headerLength, expected, kind, string.Join('x', dims), name);
        return dims;
    }

    private static void CheckLength(long actual, Int128 expected, string kind, string shape, string name)
    {
        if (actual < expected)
            throw new DataException($"'{name}' is truncated: its header declares {shape} {kind} bytes ({expected}) but only {actual} follow; re-download the file");
        if (actual > expected)
            throw new DataException($"'{name}' has {actual - expected} bytes after the {shape} {kind} bytes its header declares; the file is corrupt, re-download it");
    }
}
