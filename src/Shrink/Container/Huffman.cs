namespace Shrink.Container;

/// <summary>
/// Canonical Huffman coding of symbols 0…n−1, MSB first. The code is described by one length per symbol
/// (0: unused); lengths are capped at <see cref="MaxLength"/> bits by flattening the frequencies. The
/// decoder validates the lengths (Kraft sum), reads exactly the number of symbols asked for, and fails
/// with <see cref="ModelFormatException"/> on a truncated or invalid stream — never loops or over-reads.
/// </summary>
public static class Huffman
{
    public const int MaxLength = 24;

    /// <summary>Code lengths for the symbol frequencies (a single used symbol gets length 1).</summary>
    public static byte[] Lengths(long[] frequencies)
    {
        var freq = frequencies.ToArray();
        while (true)
        {
            var lengths = Build(freq);
            if (lengths.All(l => l <= MaxLength)) return lengths;
            for (var i = 0; i < freq.Length; i++) if (freq[i] > 0) freq[i] = freq[i] / 2 + 1; // flatten and retry
        }
    }

    private static byte[] Build(long[] freq)
    {
        var n = freq.Length;
        var lengths = new byte[n];
        var used = Enumerable.Range(0, n).Where(i => freq[i] > 0).ToList();
        if (used.Count == 0) return lengths;
        if (used.Count == 1)
        {
            lengths[used[0]] = 1;
            return lengths;
        }
        // Nodes 0…n−1 are leaves; parents are appended. Ties break on the node index, so the code is deterministic.
        var parent = new List<int>(new int[n]);
        var queue = new PriorityQueue<int, (long, int)>();
        foreach (var i in used) queue.Enqueue(i, (freq[i], i));
        var weight = new List<long>(freq);
        while (queue.Count > 1)
        {
            queue.TryDequeue(out var a, out var pa);
            queue.TryDequeue(out var b, out var pb);
            var id = weight.Count;
            weight.Add(pa.Item1 + pb.Item1);
            parent.Add(-1);
            parent[a] = id;
            parent[b] = id;
            queue.Enqueue(id, (pa.Item1 + pb.Item1, id));
        }
        var root = weight.Count - 1;
        foreach (var i in used)
        {
            var depth = 0;
            for (var node = i; node != root; node = parent[node]) depth++;
            lengths[i] = (byte)Math.Min(depth, 255);
        }
        return lengths;
    }

    /// <summary>
    /// The canonical code of the lengths in one counting pass (no sort): per length, how many symbols have it
    /// (<paramref name="countOf"/>), its first code and where its symbols start in the returned order (used
    /// symbols by length, then by symbol). The tables are the caller's, so decoding a stream allocates no more
    /// than the order and the result.
    /// </summary>
    private static int[] Canonical(byte[] lengths, Span<int> countOf, Span<long> first, Span<int> start)
    {
        countOf.Clear();
        foreach (var l in lengths) if (l is > 0 and <= MaxLength) countOf[l]++;
        long code = 0;
        start[1] = 0;
        for (var l = 1; l <= MaxLength; l++)
        {
            first[l] = code; // shorter codes first; the next length continues one bit longer
            code = (code + countOf[l]) << 1;
            start[l + 1] = start[l] + countOf[l];
        }
        var order = new int[start[MaxLength + 1]];
        Span<int> next = stackalloc int[MaxLength + 2];
        start.CopyTo(next);
        for (var s = 0; s < lengths.Length; s++)
            if (lengths[s] is > 0 and <= MaxLength) order[next[lengths[s]]++] = s;
        return order;
    }

    /// <summary>Canonical codes for the lengths: shorter codes first, then by symbol.</summary>
    private static uint[] Codes(byte[] lengths)
    {
        Span<int> countOf = stackalloc int[MaxLength + 1], start = stackalloc int[MaxLength + 2];
        Span<long> first = stackalloc long[MaxLength + 1];
        var order = Canonical(lengths, countOf, first, start);
        var codes = new uint[lengths.Length];
        for (var l = 1; l <= MaxLength; l++)
            for (var k = 0; k < countOf[l]; k++) codes[order[start[l] + k]] = (uint)(first[l] + k);
        return codes;
    }

    /// <summary>Encodes the symbols with the code of <paramref name="lengths"/>; returns the bytes and the bit count.</summary>
    public static (byte[] Bytes, long Bits) Encode(IReadOnlyList<int> symbols, byte[] lengths)
    {
        var codes = Codes(lengths);
        var writer = new BitWriter();
        foreach (var s in symbols)
        {
            if (lengths[s] == 0) throw new ArgumentException($"symbol {s} has no code");
            writer.Write(codes[s], lengths[s]);
        }
        return (writer.ToArray(), writer.BitCount);
    }

    /// <summary>Checks code lengths read from a file: within the cap and a prefix code (Kraft sum ≤ 1).</summary>
    public static void Validate(byte[] lengths, string what)
    {
        double kraft = 0;
        foreach (var l in lengths)
        {
            if (l > MaxLength) throw new ModelFormatException($"{what}: a Huffman code length of {l} bits exceeds {MaxLength}");
            if (l > 0) kraft += Math.Pow(2, -l);
        }
        if (kraft > 1 + 1e-12) throw new ModelFormatException($"{what}: the Huffman code lengths do not form a prefix code");
    }

    /// <summary>Decodes exactly <paramref name="count"/> symbols from <paramref name="bits"/> bits of <paramref name="bytes"/>.</summary>
    public static int[] Decode(byte[] bytes, long bits, byte[] lengths, int count, string what)
    {
        Validate(lengths, what);
        if (bits < 0 || bits > (long)bytes.Length * 8) throw new ModelFormatException($"{what}: the bit count {bits} does not fit {bytes.Length} bytes");
        if (count < 0 || count > bits) throw new ModelFormatException($"{what}: {count} symbols cannot fit {bits} bits (truncated)"); // every symbol takes a bit at least
        Span<int> countOf = stackalloc int[MaxLength + 1], start = stackalloc int[MaxLength + 2];
        Span<long> first = stackalloc long[MaxLength + 1];
        var order = Canonical(lengths, countOf, first, start);
        if (count > 0 && order.Length == 0) throw new ModelFormatException($"{what}: {count} symbols to decode but the code is empty");
        var reader = new BitReader(bytes, bits);
        var result = new int[count];
        for (var i = 0; i < count; i++)
        {
            long code = 0;
            var l = 0;
            while (true)
            {
                if (++l > MaxLength) throw new ModelFormatException($"{what}: an invalid Huffman code at symbol {i}");
                if (!reader.TryRead(out var bit)) throw new ModelFormatException($"{what}: the stream ends after {i} of {count} symbols (truncated)");
                code = (code << 1) | (uint)bit;
                if (countOf[l] > 0 && code >= first[l] && code - first[l] < countOf[l])
                {
                    result[i] = order[start[l] + (int)(code - first[l])];
                    break;
                }
            }
        }
        return result;
    }
}

/// <summary>Writes bits MSB first.</summary>
public sealed class BitWriter
{
    private readonly List<byte> _bytes = new();
    private int _used = 8;

    public long BitCount { get; private set; }

    public void Write(uint value, int bits)
    {
        for (var i = bits - 1; i >= 0; i--)
        {
            if (_used == 8)
            {
                _bytes.Add(0);
                _used = 0;
            }
            if (((value >> i) & 1) != 0) _bytes[^1] |= (byte)(0x80 >> _used);
            _used++;
            BitCount++;
        }
    }

    public byte[] ToArray() => _bytes.ToArray();
}

/// <summary>Reads bits MSB first, never past the declared bit count.</summary>
public sealed class BitReader
{
    private readonly byte[] _bytes;
    private readonly long _bits;
    private long _position;

    public BitReader(byte[] bytes, long bits) => (_bytes, _bits) = (bytes, bits);

    /// <summary>Reads <paramref name="bits"/> bits as an unsigned number, MSB first (what <see cref="BitWriter.Write"/> wrote).</summary>
    public bool TryRead(int bits, out uint value)
    {
        value = 0;
        for (var i = 0; i < bits; i++)
        {
            if (!TryRead(out var bit)) return false;
            value = (value << 1) | (uint)bit;
        }
        return true;
    }

    public bool TryRead(out int bit)
    {
        if (_position >= _bits)
        {
            bit = 0;
            return false;
        }
        bit = (_bytes[_position >> 3] >> (7 - (int)(_position & 7))) & 1;
        _position++;
        return true;
    }
}
