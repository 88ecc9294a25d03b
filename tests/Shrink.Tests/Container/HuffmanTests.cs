using Shrink.Container;
using Xunit;

namespace Shrink.Tests.Container;

/// <summary>Canonical Huffman coding: round trips, optimal lengths, and rejection of bad streams.</summary>
public class HuffmanTests
{
    [Fact]
    public void RoundTripsAndGivesFrequentSymbolsShortCodes()
    {
        var random = new Random(4);
        // Geometric-like frequencies over 40 symbols.
        var symbols = Enumerable.Range(0, 20_000).Select(_ => Math.Min(39, (int)(-Math.Log(1 - random.NextDouble()) * 3))).ToList();
        var freq = new long[40];
        foreach (var s in symbols) freq[s]++;
        var lengths = Huffman.Lengths(freq);
        var (bytes, bits) = Huffman.Encode(symbols, lengths);
        Assert.Equal(symbols, Huffman.Decode(bytes, bits, lengths, symbols.Count, "test"));
        Assert.True(lengths[0] <= lengths[10]);
        // Within one bit per symbol of the entropy (Huffman's bound).
        var entropy = freq.Where(f => f > 0).Sum(f => -f * Math.Log2((double)f / symbols.Count));
        Assert.InRange(bits, entropy, entropy + symbols.Count);
    }

    [Fact]
    public void OneSymbolAndCappedLengths()
    {
        var lengths = Huffman.Lengths(new long[] { 0, 5, 0 });
        Assert.Equal(new byte[] { 0, 1, 0 }, lengths);
        var (bytes, bits) = Huffman.Encode(new[] { 1, 1, 1, 1, 1 }, lengths);
        Assert.Equal(5, bits);
        Assert.Equal(new[] { 1, 1, 1, 1, 1 }, Huffman.Decode(bytes, bits, lengths, 5, "test"));
        // Fibonacci frequencies would need codes longer than the cap.
        var fib = new long[40];
        fib[0] = fib[1] = 1;
        for (var i = 2; i < 40; i++) fib[i] = fib[i - 1] + fib[i - 2];
        Assert.Equal(40, Huffman.Lengths(fib).Count());
        Assert.All(Huffman.Lengths(fib), l => Assert.InRange(l, 1, Huffman.MaxLength));
    }

    [Fact]
    public void BadStreamsAreRejected()
    {
        var lengths = Huffman.Lengths(new long[] { 10, 5, 1 });
        var (bytes, bits) = Huffman.Encode(new[] { 0, 1, 2, 0 }, lengths);
        Assert.Contains("truncated", Assert.Throws<ModelFormatException>(() => Huffman.Decode(bytes, bits - 1, lengths, 4, "t")).Message);
        Assert.Contains("prefix code", Assert.Throws<ModelFormatException>(() => Huffman.Decode(bytes, bits, new byte[] { 1, 1, 1 }, 4, "t")).Message);
        Assert.Contains("does not fit", Assert.Throws<ModelFormatException>(() => Huffman.Decode(bytes, 99, lengths, 4, "t")).Message);
    }
}
