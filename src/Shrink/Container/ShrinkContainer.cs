using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes.Sharing;

namespace Shrink.Container;

/// <summary>What packing one clustered weight took.</summary>
public sealed record PackedTensor(string Name, long Elements, long NonZero, int IndexBits, int ValueBits, long Entries,
    long GapBits, long ValueCodeBits, int CodebookEntries)
{
    /// <summary>Bits per non-zero weight after Huffman coding: positions, values and the codebook.</summary>
    public double BitsPerWeight => NonZero == 0 ? 0 : (GapBits + ValueCodeBits + 32.0 * CodebookEntries) / NonZero;

    /// <summary>Bytes when pruned only: relative indices of <see cref="IndexBits"/> and 32-bit float values.</summary>
    public double PrunedBytes => Entries * (IndexBits + 32) / 8.0;

    /// <summary>Bytes when pruned and clustered, before Huffman coding: fixed-width indices and cluster indices, and the codebook.</summary>
    public double ClusteredBytes => Entries * (IndexBits + ValueBits) / 8.0 + 4.0 * CodebookEntries;
}

/// <summary>The result of packing: the container's bytes and the sizes at each Deep Compression stage.</summary>
public sealed record PackResult(byte[] Bytes, IReadOnlyList<PackedTensor> Tensors, long GraphBytes)
{
    /// <summary>Size after pruning alone (sparse relative-index storage, float values) plus the rest of the model.</summary>
    public long PrunedBytes => GraphBytes + (long)Math.Ceiling(Tensors.Sum(t => t.PrunedBytes));

    /// <summary>Size after pruning and clustering, before Huffman coding.</summary>
    public long ClusteredBytes => GraphBytes + (long)Math.Ceiling(Tensors.Sum(t => t.ClusteredBytes));
}

/// <summary>
/// The <c>.shrink</c> container: a clustered (and usually pruned) model as in Deep Compression. Layout:
/// "SHRK", a version byte, a reserved byte, the section count (u16); then sections, each a kind byte, a
/// length (u32), the payload and a CRC32 of kind, length and payload. Kind 1 is the ONNX model (Brotli-compressed)
/// with the clustered weights emptied; kind 2 is one clustered weight: name, shape, index width b, cluster
/// bits, entry count, the codebook (float32), then the relative positions (gaps of 1…2^b; a longer gap is
/// bridged by filler entries of value 0, as in the paper, and filler entries carry the positions on to within
/// 2^b of the tensor's end, so a tensor of n elements has at least n/2^b − 1 entries) and the cluster indices
/// (0 = filler, i = codebook entry i−1), each Huffman-coded with its own canonical code (its code lengths stored
/// in 5 bits each). Unpacking restores the clustered model exactly. All integers little-endian. Every length
/// and count read is checked against the bytes that could hold it before it is used (version 1 left the zeros
/// after the last non-zero implicit, which no check can bound; this build refuses it).
/// </summary>
public static partial class ShrinkContainer
{
    public static readonly byte[] Magic = "SHRK"u8.ToArray();
    public const byte Version = 2;
    private const byte GraphKind = 1;
    private const byte TensorKind = 2;

    /// <summary>Bytes of a section besides its payload: kind, length, CRC.</summary>
    private const int SectionOverhead = 9;

    /// <summary>Most elements the decoder accepts over all clustered weights, so a corrupt shape cannot ask for unbounded memory.</summary>
    public const long MaxElements = 1L << 28;

    /// <summary>Largest inflated model section (the graph and the unclustered tensors).</summary>
    public const long MaxGraphBytes = 256L << 20;

    /// <summary>Packs the weights a <see cref="ClusterPass"/> clustered; the rest of the model goes into the ONNX section.</summary>
    public static PackResult Pack(Model clustered)
    {
        var model = clustered.Clone();
        var bits = ClusterPass.ReadBits(model);
        if (bits.Count == 0) throw new OptionsException("the model has no clustered weights (no shrink.cluster_bits metadata); cluster it first (the cluster technique, shrink cluster)");
        var sections = new List<(byte Kind, byte[] Payload)>();
        var packed = new List<PackedTensor>();
        var initializers = new Dictionary<string, Value>();
        foreach (var i in model.Graph.Initializers) initializers.TryAdd(i.Name, i);
        foreach (var (name, valueBits) in bits)
        {
            if (valueBits is < 1 or > MaxIndexBits) throw new OptionsException($"'{name}' records {valueBits} cluster bits in {ClusterPass.BitsKey}; 1 to {MaxIndexBits} are valid; cluster the model again");
            var v = initializers.GetValueOrDefault(name) ?? throw new OptionsException($"the clustered weight '{name}' is not in the model");
            if (v.Const is not { DataType: DataType.Float } t) throw new OptionsException($"the clustered weight '{name}' is not float32");
            var (payload, info) = PackTensor(name, t, valueBits);
            sections.Add((TensorKind, payload));
            packed.Add(info);
            v.Const = new Tensor(name, DataType.Float, new long[] { 0 }, Array.Empty<byte>());
        }
        var graph = Deflate(OnnxWriter.ToBytes(model));
        sections.Insert(0, (GraphKind, graph));
        using var stream = new MemoryStream();
        stream.Write(Magic);
        stream.WriteByte(Version);
        stream.WriteByte(0);
        WriteU16(stream, sections.Count);
        foreach (var (kind, payload) in sections) WriteSection(stream, kind, payload);
        return new PackResult(stream.ToArray(), packed, graph.Length + 8 + (long)SectionOverhead * sections.Count);
    }

    /// <summary>
    /// Packs as <see cref="Pack"/> does and unpacks the bytes again before they are used: every clustered weight must come
    /// back exactly (as numbers: a −0 weight comes back as +0, which changes no output); a weight that does not is a bug
    /// (<see cref="InvalidOperationException"/>). Returns the container and the model it restores.
    /// </summary>
    /// <param name="clustered">A model whose weights <see cref="ClusterPass"/> clustered.</param>
    /// <param name="source">Names the container in messages (its destination path).</param>
    public static (PackResult Result, Model Restored) PackVerified(Model clustered, string source)
    {
        var result = Pack(clustered);
        var back = Unpack(result.Bytes, source);
        foreach (var t in result.Tensors)
            if (!back.Graph.FindInitializer(t.Name)!.Const!.Floats.SequenceEqual(clustered.Graph.FindInitializer(t.Name)!.Const!.Floats))
                throw new InvalidOperationException($"internal error: '{t.Name}' does not survive the container");
        return (result, back);
    }

    private static (byte[] Payload, PackedTensor Info) PackTensor(string name, Tensor t, int valueBits)
    {
        var values = t.Floats.ToArray();
        var codebook = values.Where(x => x != 0).Distinct().OrderBy(x => x).ToArray();
        if (codebook.Length > 1 << valueBits)
            throw new OptionsException($"'{name}' holds {codebook.Length} distinct non-zero values, more than 2^{valueBits}; cluster the model again");
        if (values.Any(x => !float.IsFinite(x))) throw new OptionsException($"'{name}' holds NaN or infinite weights");
        var positions = Enumerable.Range(0, values.Length).Where(i => values[i] != 0).ToArray();
        // The index width that makes the coded stream smallest (the paper fixes 8 bits for conv, 5 for fc).
        (byte[] Payload, PackedTensor Info)? best = null;
        for (var b = 1; b <= RelativeIndex.MaxBits; b++)
        {
            var gaps = new List<int>();
            var symbols = new List<int>();
            foreach (var (gap, position) in RelativeIndex.Entries(positions, values.Length, b))
            {
                gaps.Add(gap);
                symbols.Add(position < 0 ? 0 : 1 + Array.BinarySearch(codebook, values[position]));
            }
            var gapLengths = Huffman.Lengths(Frequencies(gaps, 1 << b));
            var valueLengths = Huffman.Lengths(Frequencies(symbols, codebook.Length + 1));
            var (gapBytes, gapBits) = Huffman.Encode(gaps, gapLengths);
            var (valueBytes, valueCodeBits) = Huffman.Encode(symbols, valueLengths);
            using var s = new MemoryStream();
            var nameBytes = Encoding.UTF8.GetBytes(name);
            WriteU16(s, nameBytes.Length);
            s.Write(nameBytes);
            s.WriteByte((byte)t.Dims.Length);
            foreach (var d in t.Dims) WriteI64(s, d);
            s.WriteByte((byte)b);
            s.WriteByte((byte)valueBits);
            WriteU32(s, (uint)gaps.Count);
            WriteU16(s, codebook.Length);
            foreach (var c in codebook) WriteF32(s, c);
            WriteCode(s, gapLengths, gapBytes, gapBits);
            WriteCode(s, valueLengths, valueBytes, valueCodeBits);
            var info = new PackedTensor(name, values.Length, positions.Length, b, valueBits, gaps.Count, gapBits, valueCodeBits, codebook.Length);
            if (best is null || s.Length < best.Value.Payload.Length) best = (s.ToArray(), info);
        }
        return best!.Value;
    }

    private static long[] Frequencies(List<int> symbols, int alphabet)
    {
        var f = new long[alphabet];
        foreach (var s in symbols) f[s]++;
        return f;
    }

    private static void WriteCode(Stream s, byte[] lengths, byte[] bytes, long bits)
    {
        WriteU16(s, lengths.Length);
        var packed = new BitWriter(); // code lengths (≤ 24) in 5 bits each
        foreach (var l in lengths) packed.Write(l, 5);
        s.Write(packed.ToArray());
        WriteU32(s, checked((uint)bits));
        s.Write(bytes);
    }

    private static void WriteSection(Stream s, byte kind, byte[] payload)
    {
        var body = new byte[5 + payload.Length];
        body[0] = kind;
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(body, 5);
        s.Write(body);
        WriteU32(s, Crc32.HashToUInt32(body));
    }

    private static byte[] Deflate(byte[] data)
    {
        using var output = new MemoryStream();
        using (var z = new BrotliStream(output, CompressionLevel.SmallestSize, leaveOpen: true)) z.Write(data);
        return output.ToArray();
    }

    private static void WriteU16(Stream s, int v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, checked((ushort)v)); s.Write(b); }
    private static void WriteU32(Stream s, uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); s.Write(b); }
    private static void WriteI64(Stream s, long v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); s.Write(b); }
    private static void WriteF32(Stream s, float v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteSingleLittleEndian(b, v); s.Write(b); }
}
