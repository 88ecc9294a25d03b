namespace Shrink.Data;

/// <summary>
/// Reads IDX files (the MNIST / Fashion-MNIST format): unsigned-byte images (magic 0x00000803,
/// dims N, rows, cols) and labels (magic 0x00000801, dim N). Gzip is detected by its magic bytes
/// 1F 8B, so <c>.gz</c> and raw files both work. The header is read first and bounds what is read
/// and allocated (at most 1 GiB of data), so a gzip bomb is refused early. Bad files raise <see cref="DataException"/>.
/// </summary>
public static class IdxReader
{
    /// <summary>Magic number of an IDX file of unsigned bytes with three dimensions.</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of an IDX file of unsigned bytes with one dimension.</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Reads an IDX image file from <paramref name="path"/>.</summary>
    public static IdxImages ReadImages(string path)
    {
        using var stream = DataFiles.Open(path, "IDX image file");
        return ReadImages(stream, path);
    }

    /// <summary>Reads an IDX image file from <paramref name="stream"/>; <paramref name="name"/> names it in errors.</summary>
    public static IdxImages ReadImages(Stream stream, string name)
    {
        var (dims, bytes) = IdxDecoder.Read(stream, ImagesMagic, "image", name);
        var pixels = new float[bytes.Length];
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = bytes[i] / 255f;
        return new IdxImages(dims[0], dims[1], dims[2], pixels);
    }

    /// <summary>Reads an IDX label file from <paramref name="path"/>.</summary>
    public static int[] ReadLabels(string path)
    {
        using var stream = DataFiles.Open(path, "IDX label file");
        return ReadLabels(stream, path);
    }

    /// <summary>Reads an IDX label file from <paramref name="stream"/>; <paramref name="name"/> names it in errors.</summary>
    public static int[] ReadLabels(Stream stream, string name)
    {
        var (_, bytes) = IdxDecoder.Read(stream, LabelsMagic, "label", name);
        return Array.ConvertAll(bytes, b => (int)b);
    }
}
