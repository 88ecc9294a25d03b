using System.Runtime.InteropServices;
using System.Text;
using Shrink.Ir;
using Shrink.Text;

namespace Shrink.Container;

/// <summary>
/// Decoding one weight section. What the section declares is held against what it holds before anything is
/// allocated: an entry takes at least one bit of index code and one of cluster code, so the entries are at most
/// half the section's bits; each entry moves at most 2^b positions and the positions reach to within one gap of
/// the tensor's end, so the tensor has fewer than (entries + 1)·2^b elements. A tensor thus costs at most
/// 4·2^b·(bits/2 + 1) bytes — linear in the section — besides the cap <see cref="MaxElements"/> over all sections.
/// </summary>
public static partial class ShrinkContainer
{
    /// <summary>The widest relative index and cluster index the format allows (what <see cref="Pack"/> writes, and ClusterOptions allows).</summary>
    public const int MaxIndexBits = 8;

    /// <summary>Decodes one weight section; <paramref name="check"/> vets the name (returns a problem) before anything is allocated for it.</summary>
    private static (string Name, Tensor Tensor) ReadTensor(ReadOnlySpan<byte> payload, int start, Func<string, string> bad, long budget, Func<string, string?> check)
    {
        var r = new SectionReader(payload, start, bad);
        var nameAt = r.Offset;
        var name = Encoding.UTF8.GetString(r.Take(r.U16()));
        ModelFormatException Refuse(string what) => new(bad($"weight '{Message.Name(name)}' {what}"));
        if (check(name) is { } problem) throw Refuse($"{problem} (byte {nameAt})");
        var (dims, elements, indexBits, valueBits, entries) = ReadDeclared(ref r, budget, Refuse);
        var codebookAt = r.Offset;
        var codebookSize = r.U16();
        if (codebookSize > 1 << valueBits) throw Refuse($"has a codebook of {codebookSize} values at byte {codebookAt}, larger than 2^{valueBits}");
        var codebook = codebookSize == 0 ? Array.Empty<float>() : new float[codebookSize];
        for (var i = 0; i < codebook.Length; i++) codebook[i] = r.F32();
        var gaps = ReadCode(ref r, 1 << indexBits, (int)entries, "positions", Refuse);
        var symbols = ReadCode(ref r, codebook.Length + 1, (int)entries, "values", Refuse);
        r.End();
        return (name, new Tensor(name, DataType.Float, dims, Fill(elements, indexBits, codebook, gaps, symbols, Refuse)));
    }

    /// <summary>A weight's shape, index widths and entry count, each held against the cap and against the bits its section holds.</summary>
    private static (long[] Dims, long Elements, int IndexBits, int ValueBits, uint Entries) ReadDeclared(ref SectionReader r, long budget, Func<string, ModelFormatException> refuse)
    {
        var shapeAt = r.Offset;
        var dims = ReadShape(ref r);
        if (dims is null) throw refuse($"has an impossible shape at byte {shapeAt}");
        var elements = dims.Aggregate(1L, (a, x) => a * x);
        if (elements > budget) throw refuse(Invariant($"at byte {shapeAt} takes the container past {MaxElements:N0} elements"));
        var widthsAt = r.Offset;
        int indexBits = r.U8(), valueBits = r.U8();
        if (indexBits is < 1 or > MaxIndexBits || valueBits is < 1 or > MaxIndexBits)
            throw refuse($"has index widths {indexBits} and {valueBits} at byte {widthsAt} (1 to {MaxIndexBits} are valid)");
        var entriesAt = r.Offset;
        var entries = r.U32();
        var bits = 8L * r.Remaining;
        if (entries > bits / 2)
            throw refuse(Invariant($"declares {entries:N0} entries at byte {entriesAt}, but its section holds {bits:N0} bits after them (each entry takes a bit of index code and a bit of cluster code at least); the container is corrupt or hostile"));
        var reach = ((entries + 1L) << indexBits) - 1;
        if (elements > reach)
            throw refuse(Invariant($"declares {elements:N0} elements at byte {shapeAt}, but its section holds {bits:N0} bits: {entries:N0} entries of at most {1 << indexBits} positions reach {reach:N0}; the container is corrupt or hostile"));
        if (entries > elements) throw refuse(Invariant($"declares {entries:N0} entries at byte {entriesAt} for {elements:N0} elements"));
        return (dims, elements, indexBits, valueBits, entries);
    }

    /// <summary>Rank and dimensions, or null unless each is within <see cref="MaxElements"/> and so is their product.</summary>
    private static long[]? ReadShape(ref SectionReader r)
    {
        var dims = new long[r.U8()];
        long product = 1;
        for (var d = 0; d < dims.Length; d++)
        {
            dims[d] = r.I64();
            if (dims[d] < 0 || dims[d] > MaxElements || (product *= Math.Max(1, dims[d])) > MaxElements) return null;
        }
        return dims;
    }

    /// <summary>The dense float32 data, once the positions are known to stay inside the tensor and to reach its end.</summary>
    private static byte[] Fill(long elements, int indexBits, float[] codebook, int[] gaps, int[] symbols, Func<string, ModelFormatException> refuse)
    {
        long last = -1;
        foreach (var g in gaps)
        {
            last += g + 1;
            if (last >= elements) throw refuse(Invariant($"has a position past its {elements:N0} elements"));
        }
        if (elements - 1 - last >= 1L << indexBits)
            throw refuse(Invariant($"has positions that stop {elements - 1 - last:N0} elements before its end (more than one gap of {1 << indexBits}); the container is corrupt"));
        var data = new byte[elements * sizeof(float)];
        var values = MemoryMarshal.Cast<byte, float>(data.AsSpan());
        long pos = -1;
        for (var i = 0; i < gaps.Length; i++)
        {
            pos += gaps[i] + 1;
            if (symbols[i] > 0) values[(int)pos] = codebook[symbols[i] - 1];
        }
        return data;
    }

    /// <summary>One Huffman-coded stream: the symbol count, code lengths in 5 bits each, the bit count and the bits.</summary>
    private static int[] ReadCode(ref SectionReader r, int alphabet, int count, string what, Func<string, ModelFormatException> refuse)
    {
        var at = r.Offset;
        var n = r.U16();
        if (n != alphabet) throw refuse($"{what}: a code for {n} symbols at byte {at} where {alphabet} were expected");
        var packed = r.Take((5 * n + 7) / 8);
        var lengths = new byte[n];
        for (var i = 0; i < n; i++)
            for (var b = 5 * i; b < 5 * i + 5; b++)
                lengths[i] = (byte)((lengths[i] << 1) | ((packed[b >> 3] >> (7 - (b & 7))) & 1)); // MSB first, as BitWriter wrote them
        var bits = r.U32();
        var bytes = r.Take((bits + 7) / 8).ToArray();
        try
        {
            return Huffman.Decode(bytes, bits, lengths, count, what);
        }
        catch (ModelFormatException e)
        {
            throw refuse($"{e.Message} (the code at byte {at})");
        }
    }
}
