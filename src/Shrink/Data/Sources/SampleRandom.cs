namespace Shrink.Data.Sources;

/// <summary>
/// The random numbers of one sample in one epoch: a SplitMix64 stream (Steele, Lea and Flood, "Fast splittable
/// pseudorandom number generators", 2014) started from a hash of (seed, epoch, sample index, purpose). It depends on
/// nothing else — not the batch, the thread or the order of reading — so a sample reads the same in every run,
/// and a resumed epoch the same as an uninterrupted one. Identical on every platform (no <see cref="Random"/>).
/// </summary>
internal struct SampleRandom
{
    private ulong _state;

    /// <summary>The stream of <paramref name="index"/> in <paramref name="epoch"/>; <paramref name="purpose"/> keeps independent uses apart.</summary>
    public SampleRandom(int seed, int epoch, int index, ulong purpose)
        => _state = Mix(Mix(Mix(Mix((ulong)(uint)seed) ^ (ulong)(uint)epoch) ^ (ulong)(uint)index) ^ purpose);

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>A uniform integer in [0, <paramref name="count"/>) (Lemire's multiply-shift; the bias is below 2⁻³²).</summary>
    public int Below(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        return (int)(((Next() >> 32) * (ulong)count) >> 32);
    }

    /// <summary>True with probability one half.</summary>
    public bool Coin() => (Next() >> 63) != 0;

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
