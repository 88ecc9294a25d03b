using System.Numerics;

namespace Shrink.Ir;

/// <summary>
/// The float32 buffers <see cref="Tensor.ReadFloats"/> lends: Shrink's own pool, since the shared pool drops its buffers at
/// every full collection, which a pass over a big model causes often. It keeps the <see cref="Capacity"/> largest buffers
/// given back and lends the smallest kept one that is long enough; a new buffer is <see cref="RoundedLength"/> long, so
/// that a large layer costs at most an eighth more than its values (a power-of-two pool costs up to twice as much).
/// </summary>
internal sealed class FloatBuffers(int capacity)
{
    /// <summary>Up to this many values (1 MiB) a new buffer is a power of two long; above, a multiple of an eighth of one.</summary>
    public const int SmallLength = 1 << 18;

    private readonly List<float[]> _kept = new();
    private readonly Lock _gate = new();

    /// <summary>Buffers kept for lending again.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>
    /// The length of a new buffer for <paramref name="count"/> values: the next power of two up to <see cref="SmallLength"/>
    /// (16 at least), else <paramref name="count"/> rounded up to a multiple of 2^(⌊log₂ count⌋ − 3), less than count / 8 over.
    /// </summary>
    public static int RoundedLength(int count)
    {
        if (count <= SmallLength) return (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(count, 16));
        var step = 1L << (BitOperations.Log2((uint)count) - 3);
        return (int)Math.Min(Array.MaxLength, (count + step - 1) / step * step);
    }

    /// <summary>A buffer of at least <paramref name="count"/> values (their contents are undefined).</summary>
    public float[] Rent(int count)
    {
        lock (_gate)
        {
            var best = -1;
            for (var i = 0; i < _kept.Count; i++)
                if (_kept[i].Length >= count && (best < 0 || _kept[i].Length < _kept[best].Length)) best = i;
            if (best >= 0)
            {
                var buffer = _kept[best];
                _kept.RemoveAt(best);
                return buffer;
            }
        }
        return GC.AllocateUninitializedArray<float>(RoundedLength(count));
    }

    /// <summary>Gives <paramref name="buffer"/> back; the smallest kept buffer is dropped when more than <see cref="Capacity"/> are kept.</summary>
    public void Return(float[] buffer)
    {
        lock (_gate)
        {
            if (_kept.Any(b => ReferenceEquals(b, buffer))) throw new InvalidOperationException("a float buffer was given back twice");
            _kept.Add(buffer);
            if (_kept.Count > Capacity) _kept.Remove(_kept.MinBy(b => b.Length)!);
        }
    }
}
