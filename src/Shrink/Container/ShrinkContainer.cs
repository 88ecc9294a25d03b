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
/// bridged by filler entries of value 0, as in the paper) and the cluster indices (0 = filler, i = codebook
/// entry i−1), each Huffman-coded with its own canonical code (its code lengths stored in 5 bits each). Unpacking restores the clustered model
/// exactly. All integers little-endian. Every length and count read is checked before it is used.
/// </summary>
public static class ShrinkContainer
{
    public static readonly byte[] Magic = "SHRK"u8.ToArray();
    public const byte Version = 1;
    private const byte GraphKind = 1;
    private const byte TensorKind = 2;

    /// <summary>Most elements the decoder accepts over all clustered weights, so a corrupt shape cannot ask for unbounded memory.</summary>
    public const long MaxElements = 1L << 28;

    /// <summary>Largest inflated model section (the graph and the unclustered tensors).</summary>
    public const long MaxGraphBytes = 256L << 20;

    /// <summary>Packs the weights a <see cref="ClusterPass"/> clustered; the rest of the model goes into the ONNX section.</summary>
    public static PackResult Pack(Model clustered)
    {
        var model = OnnxReader.Copy(clustered);
        var bits = ClusterPass.ReadBits(model);
        if (bits.Count == 0) throw new OptionsException("the model has no clustered weights (no shrink.cluster_bits metadata); run shrink cluster first");
        var sections = new List<(byte Kind, byte[] Payload)>();
        var packed = new List<PackedTensor>();
        foreach (var (name, valueBits) in bits)
        {
            var v = model.Graph.FindInitializer(name) ?? throw new OptionsException($"the clustered weight '{name}' is not in the model");
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
        return new PackResult(stream.ToArray(), packed, graph.Length + 8 + 9L * sections.Count);
    }

    private static (byte[] Payload, PackedTensor Info) PackTensor(string name, Tensor t, int valueBits)
    {
        var values = t.AsFloats().ToArray();
        var codebook = values.Where(x => x != 0).Distinct().OrderBy(x => x).ToArray();
        if (codebook.Length > 1 << valueBits)
            throw new OptionsException($"'{name}' holds {codebook.Length} distinct non-zero values, more than 2^{valueBits}; cluster the model again");
        if (values.Any(x => !float.IsFinite(x))) throw new OptionsException($"'{name}' holds NaN or infinite weights");
        var positions = Enumerable.Range(0, values.Length).Where(i => values[i] != 0).ToArray();
        // The index width that makes the coded stream smallest (the paper fixes 8 bits for conv, 5 for fc).
        (byte[] Payload, PackedTensor Info)? best = null;
        for (var b = 1; b <= 8; b++)
        {
            var gaps = new List<int>();
            var symbols = new List<int>();
            var last = -1;
            var maxGap = 1 << b;
            foreach (var p in positions)
            {
                var gap = p - last;
                while (gap > maxGap)
                {
                    gaps.Add(maxGap - 1);
                    symbols.Add(0);
                    gap -= maxGap;
                }
                gaps.Add(gap - 1);
                symbols.Add(1 + Array.BinarySearch(codebook, values[p]));
                last = p;
            }
            var gapLengths = Huffman.Lengths(Frequencies(gaps, maxGap));
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

    /// <summary>Reads a container back into the clustered model; a damaged container raises <see cref="ModelFormatException"/>.</summary>
    public static Model Unpack(byte[] bytes, string source = "container")
    {
        try
        {
            return UnpackChecked(bytes, source);
        }
        catch (ModelFormatException)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The ONNX reader or IR rejected what the sections hold: still a damaged container.
            throw new ModelFormatException($"'{source}' is not a valid .shrink container: {e.Message.Split('\n')[0]}");
        }
    }

    private static Model UnpackChecked(byte[] bytes, string source)
    {
        string Bad(string what) => $"'{source}' is not a valid .shrink container: {what}";
        if (bytes.Length < 8 || !bytes.AsSpan(0, 4).SequenceEqual(Magic)) throw new ModelFormatException(Bad("bad magic (expected \"SHRK\"); is it a .shrink file made by shrink pack?"));
        if (bytes[4] != Version) throw new ModelFormatException(Bad($"version {bytes[4]} is not supported (this build reads version {Version})"));
        var count = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6));
        var pos = 8;
        Model? model = null;
        var tensors = new List<(string Name, Tensor Tensor)>();
        long totalElements = 0;
        for (var i = 0; i < count; i++)
        {
            if (bytes.Length - pos < 9) throw new ModelFormatException(Bad($"truncated in the header of section {i + 1} of {count}"));
            var kind = bytes[pos];
            var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 1));
            if (length > bytes.Length - pos - 9) throw new ModelFormatException(Bad($"truncated: section {i + 1} declares {length} bytes, {Math.Max(0, bytes.Length - pos - 9)} remain"));
            var body = bytes.AsSpan(pos, 5 + (int)length);
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 5 + (int)length));
            if (Crc32.HashToUInt32(body) != crc) throw new ModelFormatException(Bad($"CRC mismatch in section {i + 1} (the file is damaged)"));
            var payload = body[5..].ToArray();
            pos += 9 + (int)length;
            switch (kind)
            {
                case GraphKind when model is null:
                    model = OnnxReader.Read(Inflate(payload, Bad), source: source);
                    break;
                case TensorKind:
                    if (model is null) throw new ModelFormatException(Bad($"a weight section (section {i + 1}) comes before the model section"));
                    var clusteredNames = ClusterPass.ReadBits(model);
                    var tensor = ReadTensor(payload, Bad, MaxElements - totalElements, name =>
                        !clusteredNames.ContainsKey(name) ? $"weight '{name}' is not a clustered weight of the model"
                        : tensors.Any(t => t.Name == name) ? $"weight '{name}' appears twice" : null);
                    totalElements += tensor.Item2.ElementCount;
                    tensors.Add(tensor);
                    break;
                default:
                    throw new ModelFormatException(Bad($"unexpected section kind {kind} (section {i + 1})"));
            }
        }
        if (pos != bytes.Length) throw new ModelFormatException(Bad($"{bytes.Length - pos} bytes after the last section"));
        if (model is null) throw new ModelFormatException(Bad("no model section"));
        // Each clustered weight the model's metadata lists is filled exactly once, by a section of that name.
        var clustered = ClusterPass.ReadBits(model);
        foreach (var (name, tensor) in tensors)
        {
            if (!clustered.ContainsKey(name)) throw new ModelFormatException(Bad($"weight '{name}' is not a clustered weight of the model"));
            var v = model.Graph.FindInitializer(name) ?? throw new ModelFormatException(Bad($"weight '{name}' has no place in the model"));
            if (v.Const is not { ElementCount: 0, Dims: [0] }) throw new ModelFormatException(Bad($"weight '{name}' has no empty place in the model"));
            v.Const = tensor;
        }
        if (clustered.Keys.FirstOrDefault(n => tensors.All(t => t.Name != n)) is { } missing)
            throw new ModelFormatException(Bad($"weight '{missing}' is missing"));
        return model;
    }

    /// <summary>Decodes one weight section; <paramref name="check"/> vets the name before anything is allocated for it.</summary>
    private static (string, Tensor) ReadTensor(byte[] payload, Func<string, string> bad, long budget, Func<string, string?> check)
    {
        var r = new SpanReader(payload, bad);
        var name = Encoding.UTF8.GetString(r.Bytes(r.U16()));
        if (check(name) is { } problem) throw new ModelFormatException(bad(problem));
        var rank = r.U8();
        var dims = new long[rank];
        long elements = 1;
        for (var d = 0; d < rank; d++)
        {
            dims[d] = r.I64();
            if (dims[d] < 0 || dims[d] > MaxElements || (elements *= Math.Max(1, dims[d])) > MaxElements)
                throw new ModelFormatException(bad($"weight '{name}' has an impossible shape"));
        }
        elements = dims.Aggregate(1L, (a, x) => a * x);
        if (elements > budget) throw new ModelFormatException(bad($"weight '{name}' takes the container past {MaxElements} elements"));
        int indexBits = r.U8(), valueBits = r.U8();
        if (indexBits is < 1 or > 16 || valueBits is < 1 or > 16) throw new ModelFormatException(bad($"weight '{name}' has index widths {indexBits} and {valueBits}"));
        var entries = r.U32();
        if (entries > elements) throw new ModelFormatException(bad($"weight '{name}' declares {entries} entries for {elements} elements"));
        var codebook = new float[r.U16()];
        if (codebook.Length > 1 << valueBits) throw new ModelFormatException(bad($"weight '{name}' has a codebook larger than 2^{valueBits}"));
        for (var i = 0; i < codebook.Length; i++) codebook[i] = r.F32();
        var gaps = ReadCode(ref r, 1 << indexBits, (int)entries, $"weight '{name}', positions", bad);
        var symbols = ReadCode(ref r, codebook.Length + 1, (int)entries, $"weight '{name}', values", bad);
        r.End();
        var values = new float[elements];
        long pos = -1;
        for (var i = 0; i < entries; i++)
        {
            pos += gaps[i] + 1;
            if (pos >= elements) throw new ModelFormatException(bad($"weight '{name}': a position runs past the tensor's {elements} elements"));
            if (symbols[i] > 0) values[pos] = codebook[symbols[i] - 1];
        }
        return (name, Tensor.FromFloats(name, dims, values));
    }

    private static int[] ReadCode(ref SpanReader r, int alphabet, int count, string what, Func<string, string> bad)
    {
        var n = r.U16();
        if (n != alphabet) throw new ModelFormatException(bad($"{what}: a code for {n} symbols where {alphabet} were expected"));
        var packed = r.Bytes((5 * n + 7) / 8);
        var lengths = new byte[n];
        var bitsIn = new BitReader(packed, 5L * n);
        for (var i = 0; i < n; i++)
        {
            bitsIn.TryRead(5, out var length); // the bytes were taken whole above, so the bits are there
            lengths[i] = (byte)length;
        }
        var bits = r.U32();
        var bytes = r.Bytes((int)Math.Min(int.MaxValue, (bits + 7) / 8));
        try
        {
            return Huffman.Decode(bytes, bits, lengths, count, what);
        }
        catch (ModelFormatException e)
        {
            throw new ModelFormatException(bad(e.Message));
        }
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

    /// <summary>Inflates the model section, refusing to grow past <see cref="MaxGraphBytes"/> (a corrupt stream cannot exhaust memory).</summary>
    private static byte[] Inflate(byte[] data, Func<string, string> bad)
    {
        try
        {
            using var z = new BrotliStream(new MemoryStream(data), CompressionMode.Decompress);
            using var output = new MemoryStream();
            var buffer = new byte[81920];
            int n;
            while ((n = z.Read(buffer)) > 0)
            {
                if (output.Length + n > MaxGraphBytes) throw new ModelFormatException(bad($"the model section inflates past {MaxGraphBytes >> 20} MiB"));
                output.Write(buffer, 0, n);
            }
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new ModelFormatException(bad($"the model section does not inflate ({e.Message})"));
        }
    }

    private static void WriteU16(Stream s, int v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, checked((ushort)v)); s.Write(b); }
    private static void WriteU32(Stream s, uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); s.Write(b); }
    private static void WriteI64(Stream s, long v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); s.Write(b); }
    private static void WriteF32(Stream s, float v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteSingleLittleEndian(b, v); s.Write(b); }

    /// <summary>Bounds-checked little-endian reads of a section's payload.</summary>
    private ref struct SpanReader
    {
        private readonly ReadOnlySpan<byte> _data;
        private readonly Func<string, string> _bad;
        private int _pos;

        public SpanReader(ReadOnlySpan<byte> data, Func<string, string> bad)
        {
            _data = data;
            _bad = bad;
            _pos = 0;
        }

        private ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || n > _data.Length - _pos) throw new ModelFormatException(_bad("a section ends early (truncated)"));
            var s = _data.Slice(_pos, n);
            _pos += n;
            return s;
        }

        public byte U8() => Take(1)[0];
        public int U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
        public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
        public float F32() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));
        public byte[] Bytes(int n) => Take(n).ToArray();

        public void End()
        {
            if (_pos != _data.Length) throw new ModelFormatException(_bad($"{_data.Length - _pos} unexpected bytes at the end of a section"));
        }
    }
}
