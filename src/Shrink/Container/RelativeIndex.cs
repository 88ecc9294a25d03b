namespace Shrink.Container;

/// <summary>
/// Deep Compression's sparse storage (Han et al. 2016, "Deep Compression", §2 and Fig. 2): a tensor's non-zero weights
/// as entries of (gap, value), the gap the distance from the previous entry in 1…2^b, stored in b bits; a longer gap is
/// bridged by filler entries of value 0, and fillers carry the positions on to within 2^b of the tensor's end (so the
/// entries bound the tensor). What the <c>.shrink</c> container codes, and what a pruned model's size counts.
/// </summary>
public static class RelativeIndex
{
    /// <summary>The widest gap field tried (the paper uses 8 bits for conv layers, 5 for fully connected ones).</summary>
    public const int MaxBits = 8;

    /// <summary>
    /// The entries of a tensor of <paramref name="length"/> elements whose non-zeros are at <paramref name="positions"/>
    /// (ascending), with <paramref name="bits"/>-bit gaps: each entry's gap − 1 and the position of its non-zero, −1 for a filler.
    /// </summary>
    public static IEnumerable<(int Gap, int Position)> Entries(IReadOnlyList<int> positions, long length, int bits)
    {
        var maxGap = 1 << bits;
        long last = -1;
        foreach (var p in positions)
        {
            var gap = p - last;
            for (; gap > maxGap; gap -= maxGap) yield return (maxGap - 1, -1);
            yield return ((int)gap - 1, p);
            last = p;
        }
        for (; length - 1 - last >= maxGap; last += maxGap) yield return (maxGap - 1, -1);
    }

    /// <summary>
    /// The smallest relative-index form of the tensor (the gap width b in 1…<see cref="MaxBits"/>): its width, its entries
    /// and its bytes, entries · (b + <paramref name="valueBits"/>) / 8, rounded up.
    /// </summary>
    public static (int Bits, long Entries, long Bytes) Smallest(IReadOnlyList<int> positions, long length, int valueBits)
    {
        (int, long, long) best = (0, 0, long.MaxValue);
        for (var b = 1; b <= MaxBits; b++)
        {
            long entries = Entries(positions, length, b).LongCount();
            var bytes = (entries * (b + valueBits) + 7) / 8;
            if (bytes < best.Item3) best = (b, entries, bytes);
        }
        return best;
    }
}
