using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Shrink.Ir;
using Shrink.Zoo;

namespace Shrink.TestSupport;

/// <summary>Small files that claim (or inflate to) far more than they hold, built in memory for the resource-bound tests.</summary>
internal static class HostileFiles
{
    /// <summary>An npy version 1.0 file of float32 whose header declares <paramref name="shape"/>, followed by <paramref name="dataBytes"/> zero bytes.</summary>
    public static byte[] Npy(long[] shape, int dataBytes = 0)
    {
        var dims = shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        var dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}";
        dict += new string(' ', 63 - (10 + dict.Length) % 64) + "\n";
        var prefix = new byte[10];
        Encoding.Latin1.GetBytes("\u0093NUMPY").CopyTo(prefix, 0);
        prefix[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(prefix.AsSpan(8), (ushort)dict.Length);
        return [.. prefix, .. Encoding.Latin1.GetBytes(dict), .. new byte[dataBytes]];
    }

    /// <summary>An npy version 2.0 prefix declaring a header of <paramref name="headerLength"/> bytes, then <paramref name="present"/> spaces.</summary>
    public static byte[] NpyV2Prefix(uint headerLength, int present)
    {
        var prefix = new byte[12];
        Encoding.Latin1.GetBytes("\u0093NUMPY").CopyTo(prefix, 0);
        prefix[6] = 2;
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(8), headerLength);
        return [.. prefix, .. Enumerable.Repeat((byte)' ', present)];
    }

    /// <summary>An IDX header (big-endian magic and dimensions).</summary>
    public static byte[] IdxHeader(int magic, params int[] dims)
    {
        var header = new byte[4 + 4 * dims.Length];
        BinaryPrimitives.WriteInt32BigEndian(header, magic);
        for (int i = 0; i < dims.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dims[i]);
        return header;
    }

    /// <summary>
    /// A gzip bomb: an IDX image file whose header declares <paramref name="count"/> 28×28 images but whose
    /// gzip stream inflates to about <paramref name="inflatedGiB"/> GiB. It is one gzip member holding the
    /// header and the declared pixels, then copies of one member of 1 MiB of zeros (gzip allows members to
    /// be concatenated), so it takes about 1 KiB per inflated MiB and is built in milliseconds.
    /// </summary>
    public static byte[] IdxGzipBomb(int count, int inflatedGiB)
    {
        using var output = new MemoryStream();
        output.Write(Gzip([.. IdxHeader(0x803, count, 28, 28), .. new byte[count * 28 * 28]]));
        var zeros = Gzip(new byte[1 << 20]);
        for (int i = 0; i < inflatedGiB * 1024; i++)
            output.Write(zeros);
        return output.ToArray();
    }

    /// <summary>The gzip'd form of <paramref name="raw"/>.</summary>
    public static byte[] Gzip(byte[] raw)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
            gz.Write(raw);
        return output.ToArray();
    }

    /// <summary>The zoo's lenet300 with a second graph input named like the first.</summary>
    public static Model DuplicateInputs()
    {
        var m = ModelZoo.Create("lenet300", 0);
        var first = m.Graph.Inputs[0];
        m.Graph.Inputs.Add(new Value(first.Name, first.ElementType, first.Shape));
        return m;
    }

    /// <summary>The zoo's lenet300 importing <paramref name="domain"/> at <paramref name="opset"/>.</summary>
    public static Model WithOpset(string domain, long opset)
    {
        var m = ModelZoo.Create("lenet300", 0);
        m.SetOpset(domain, opset);
        return m;
    }

    /// <summary>The zoo's lenet300 with an initializer no node reads (ONNX Runtime warns when it removes it).</summary>
    public static Model UnusedInitializer()
    {
        var m = ModelZoo.Create("lenet300", 0);
        m.Graph.AddInitializer(new Tensor("unused_w", DataType.Float, [2], new byte[8]));
        return m;
    }
}
