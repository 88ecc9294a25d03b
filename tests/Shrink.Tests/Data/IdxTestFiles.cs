using System.Buffers.Binary;
using System.IO.Compression;

namespace Shrink.Tests.Data;

/// <summary>Builds tiny IDX files in memory for tests.</summary>
internal static class IdxTestFiles
{
    /// <summary>An IDX image file of <paramref name="count"/> images of rows×cols, pixel i = 255 - (i * 37) mod 256.</summary>
    public static byte[] Images(int count, int rows, int cols)
    {
        var pixels = Enumerable.Range(0, count * rows * cols).Select(i => (byte)(255 - i * 37 % 256)).ToArray();
        return [.. Header(0x803, count, rows, cols), .. pixels];
    }

    /// <summary>An IDX label file holding <paramref name="labels"/>.</summary>
    public static byte[] Labels(params byte[] labels) => [.. Header(0x801, labels.Length), .. labels];

    /// <summary>The gzip'd form of <paramref name="raw"/>.</summary>
    public static byte[] Gzip(byte[] raw)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gz.Write(raw);
        return output.ToArray();
    }

    /// <summary>Writes a small complete Fashion-MNIST-shaped set (5 train, 3 test, 4×4) to <paramref name="dir"/>.</summary>
    public static void WriteSet(string dir, bool gzip)
    {
        string ext = gzip ? ".gz" : "";
        Func<byte[], byte[]> encode = gzip ? Gzip : b => b;
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte" + ext), encode(Images(5, 4, 4)));
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte" + ext), encode(Labels(0, 1, 2, 9, 9)));
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte" + ext), encode(Images(3, 4, 4)));
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte" + ext), encode(Labels(3, 4, 5)));
    }

    private static byte[] Header(int magic, params int[] dims)
    {
        var header = new byte[4 + 4 * dims.Length];
        BinaryPrimitives.WriteInt32BigEndian(header, magic);
        for (int i = 0; i < dims.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dims[i]);
        return header;
    }
}
