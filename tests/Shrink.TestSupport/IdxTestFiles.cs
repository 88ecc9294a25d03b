using System.Buffers.Binary;
using System.IO.Compression;

namespace Shrink.TestSupport;

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

    /// <summary>
    /// Writes a Fashion-MNIST-shaped set of 28×28 images (<paramref name="train"/> training, <paramref name="test"/> test) whose
    /// label is a function of the image (class k: a bright band in rows 2k to 2k+5), so that a model can learn it.
    /// </summary>
    public static void WriteLearnableSet(string dir, int train, int test)
    {
        static (byte[] Images, byte[] Labels) Make(int count, int offset)
        {
            var labels = Enumerable.Range(offset, count).Select(i => (byte)(i % 10)).ToArray();
            var pixels = new byte[count * 28 * 28];
            for (var n = 0; n < count; n++)
                for (var r = 0; r < 28; r++)
                    for (var c = 0; c < 28; c++)
                        pixels[(n * 28 + r) * 28 + c] = (byte)(r >= 2 * labels[n] && r < 2 * labels[n] + 6 ? 200 + (n + c) % 50 : (n * 7 + r * 3 + c) % 40);
            return ([.. Header(0x803, count, 28, 28), .. pixels], [.. Header(0x801, count), .. labels]);
        }
        var (trainImages, trainLabels) = Make(train, 0);
        var (testImages, testLabels) = Make(test, 3);
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), trainImages);
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte"), trainLabels);
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), testImages);
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), testLabels);
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
