using System.Text;

namespace Shrink.Search;

/// <summary>
/// The search's random numbers: xoshiro256** (Blackman and Vigna 2018) seeded through SplitMix64, defined here
/// bit for bit so a seed gives the same proposals on every .NET version and machine (<see cref="Random"/> promises
/// no such thing). Each draw site takes its own stream, <see cref="For"/>(seed, purpose, index), so what a
/// strategy proposes for trial n depends only on the seed, n and the history — never on how many numbers were
/// drawn before, which is what lets a resumed search propose exactly what an uninterrupted one would.
/// </summary>
public sealed class SearchRandom
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>A generator seeded with <paramref name="seed"/>.</summary>
    public SearchRandom(ulong seed)
    {
        var x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    /// <summary>The stream of (<paramref name="seed"/>, <paramref name="purpose"/>, <paramref name="index"/>): the same three give the same numbers.</summary>
    public static SearchRandom For(long seed, string purpose, long index)
    {
        var h = 0xcbf29ce484222325UL;  // FNV-1a over the purpose's UTF-8 bytes, then mixed with seed and index
        foreach (var b in Encoding.UTF8.GetBytes(purpose)) h = (h ^ b) * 0x100000001b3UL;
        var x = h ^ (ulong)seed;
        var a = SplitMix(ref x) ^ (ulong)index * 0x9E3779B97F4A7C15UL;
        return new SearchRandom(SplitMix(ref a));
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        var result = RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1), 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, <paramref name="n"/>), without modulo bias (rejection).</summary>
    public long NextLong(long n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "must be positive");
        var un = (ulong)n;
        var limit = ulong.MaxValue - ulong.MaxValue % un;
        ulong r;
        do r = NextUInt64(); while (r >= limit);
        return (long)(r % un);
    }

    /// <summary>Uniform in [0, <paramref name="n"/>).</summary>
    public int NextInt(int n) => (int)NextLong(n);

    /// <summary>Triangular on (−1, 1), peaked at 0: a local step made of additions only, so it is the same on every machine.</summary>
    public double NextTriangular() => NextDouble() - NextDouble();

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    private static ulong SplitMix(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
