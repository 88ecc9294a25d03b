using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using Shrink.Container;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes.Sharing;

namespace Shrink.TestSupport;

/// <summary>
/// Writes <c>.shrink</c> containers byte by byte, valid CRCs included, so tests can hand the decoder files
/// that <see cref="ShrinkContainer.Pack"/> would never make (the layout is the one documented on
/// <see cref="ShrinkContainer"/>).
/// </summary>
internal static class ContainerForge
{
    public const byte GraphKind = 1;
    public const byte TensorKind = 2;

    /// <summary>One Huffman-coded stream as a weight section stores it: code lengths, bit count, bits.</summary>
    public sealed record Code(byte[] Lengths, long Bits, byte[] Bytes)
    {
        /// <summary>The symbols coded with <paramref name="lengths"/>.</summary>
        public static Code Of(byte[] lengths, IReadOnlyList<int> symbols)
        {
            var (bytes, bits) = Huffman.Encode(symbols, lengths);
            return new Code(lengths, bits, bytes);
        }

        /// <summary>No symbols, an empty code over <paramref name="alphabet"/> symbols.</summary>
        public static Code Empty(int alphabet) => new(new byte[alphabet], 0, Array.Empty<byte>());
    }

    /// <summary>
    /// The model section: a graph with an empty float initializer per weight and the cluster metadata
    /// (by default "w:bits" for each weight; <paramref name="metadata"/> replaces it), Brotli-compressed.
    /// </summary>
    public static byte[] ModelSection(IReadOnlyList<string> weights, string? metadata = null, int bits = 4)
    {
        var model = new Model(new Graph("forged"));
        model.OpsetImports.Add(new("", 17));
        foreach (var name in weights)
            model.Graph.Initializers.Add(new Value(name, DataType.Float) { Const = new Tensor(name, DataType.Float, new long[] { 0 }, Array.Empty<byte>()) });
        model.SetMetadata(ClusterPass.BitsKey, metadata ?? string.Join(",", weights.Select(w => $"{w}:{bits}")));
        using var output = new MemoryStream();
        using (var z = new BrotliStream(output, CompressionLevel.Optimal, leaveOpen: true)) z.Write(OnnxWriter.ToBytes(model));
        return output.ToArray();
    }

    /// <summary>A weight section's payload with every field given explicitly.</summary>
    public static byte[] Weight(string name, long[] dims, int indexBits, int valueBits, uint entries, float[] codebook, Code gaps, Code values)
    {
        using var s = new MemoryStream();
        var nameBytes = Encoding.UTF8.GetBytes(name);
        U16(s, nameBytes.Length);
        s.Write(nameBytes);
        s.WriteByte((byte)dims.Length);
        foreach (var d in dims) I64(s, d);
        s.WriteByte((byte)indexBits);
        s.WriteByte((byte)valueBits);
        U32(s, entries);
        U16(s, codebook.Length);
        foreach (var c in codebook) U32(s, BitConverter.SingleToUInt32Bits(c));
        WriteCode(s, gaps);
        WriteCode(s, values);
        return s.ToArray();
    }

    /// <summary>The smallest weight: one element, zero, covered without any entry (index width 1).</summary>
    public static byte[] ZeroWeight(string name) =>
        Weight(name, new long[] { 1 }, 1, 1, 0, Array.Empty<float>(), Code.Empty(2), Code.Empty(1));

    /// <summary>Header and sections; <paramref name="count"/> overrides the section count (u16) in the header.</summary>
    public static byte[] Assemble(IReadOnlyList<(byte Kind, byte[] Payload)> sections, int? count = null, byte? version = null)
    {
        using var s = new MemoryStream();
        s.Write(ShrinkContainer.Magic);
        s.WriteByte(version ?? ShrinkContainer.Version);
        s.WriteByte(0);
        U16(s, count ?? sections.Count);
        foreach (var (kind, payload) in sections)
        {
            var body = new byte[5 + payload.Length];
            body[0] = kind;
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(1), (uint)payload.Length);
            payload.CopyTo(body, 5);
            s.Write(body);
            U32(s, Crc32.HashToUInt32(body));
        }
        return s.ToArray();
    }

    /// <summary>The sections of a container (kind and payload), read without checks.</summary>
    public static List<(byte Kind, byte[] Payload)> Sections(byte[] container)
    {
        var result = new List<(byte, byte[])>();
        for (var pos = 8; pos + 9 <= container.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(container.AsSpan(pos + 1));
            result.Add((container[pos], container[(pos + 5)..(pos + 5 + length)]));
            pos += 9 + length;
        }
        return result;
    }

    /// <summary>
    /// Every length and count field of a well-formed container, as (offset, width in bytes): the section count,
    /// each section length, and in each weight section the name length, rank, dimensions, entry count, codebook
    /// size, and per code its symbol count and bit count.
    /// </summary>
    public static List<(int Offset, int Width)> LengthFields(byte[] container)
    {
        var fields = new List<(int, int)> { (6, 2) };
        for (var pos = 8; pos + 9 <= container.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(container.AsSpan(pos + 1));
            fields.Add((pos + 1, 4));
            if (container[pos] == TensorKind) WeightFields(container, pos + 5, fields);
            pos += 9 + length;
        }
        return fields;
    }

    private static void WeightFields(byte[] c, int at, List<(int, int)> fields)
    {
        fields.Add((at, 2));
        at += 2 + BinaryPrimitives.ReadUInt16LittleEndian(c.AsSpan(at));
        var rank = c[at];
        fields.Add((at, 1));
        for (var d = 0; d < rank; d++) fields.Add((at + 1 + 8 * d, 8));
        at += 1 + 8 * rank + 2;
        fields.Add((at, 4));
        fields.Add((at + 4, 2));
        at += 6 + 4 * BinaryPrimitives.ReadUInt16LittleEndian(c.AsSpan(at + 4));
        for (var code = 0; code < 2; code++)
        {
            var n = BinaryPrimitives.ReadUInt16LittleEndian(c.AsSpan(at));
            fields.Add((at, 2));
            at += 2 + (5 * n + 7) / 8;
            fields.Add((at, 4));
            at += 4 + (int)((BinaryPrimitives.ReadUInt32LittleEndian(c.AsSpan(at)) + 7) / 8);
        }
    }

    private static void WriteCode(Stream s, Code code)
    {
        U16(s, code.Lengths.Length);
        var packed = new BitWriter();
        foreach (var l in code.Lengths) packed.Write(l, 5);
        s.Write(packed.ToArray());
        U32(s, (uint)code.Bits);
        s.Write(code.Bytes);
    }

    private static void U16(Stream s, int v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v); s.Write(b); }
    private static void U32(Stream s, uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); s.Write(b); }
    private static void I64(Stream s, long v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); s.Write(b); }

    /// <summary>
    /// About 9 KB: 150 weights, and the model's cluster metadata padded with 4 MB of a repeated entry
    /// (Brotli shrinks the padding to a few hundred bytes). A decoder that re-reads the metadata per section
    /// splits 4 MB 150 times.
    /// </summary>
    public static byte[] PaddedMetadata()
    {
        var names = Enumerable.Range(0, 150).Select(i => $"w{i:D5}").ToList();
        var metadata = string.Join(",", names.Select(n => n + ":4")) + string.Concat(Enumerable.Repeat(",pad:4", 700_000));
        var sections = new List<(byte, byte[])> { (GraphKind, ModelSection(names, metadata)) };
        sections.AddRange(names.Select(n => (TensorKind, ZeroWeight(n))));
        return Assemble(sections);
    }

    /// <summary>About 5 KB declaring one [300, 894681] weight (268,404,300 elements, 1 GiB of floats) with a few thousand entries.</summary>
    public static byte[] HugeWeight()
    {
        const string name = "fc1.weight";
        var model = ModelSection(new[] { name });
        byte[] Build(int entries)
        {
            var gapLengths = new byte[256];
            gapLengths[255] = 1; // every entry a filler of 256 positions
            var gaps = Code.Of(gapLengths, Enumerable.Repeat(255, entries).ToArray());
            var values = Code.Of(new byte[] { 1, 0 }, new int[entries]);
            var weight = Weight(name, new long[] { 300, 894_681 }, 8, 4, (uint)entries, new[] { 0.5f }, gaps, values);
            return Assemble(new[] { (GraphKind, model), (TensorKind, weight) });
        }
        var room = 5_108 - Build(0).Length;
        return Build(room / 2 * 8);
    }
}
