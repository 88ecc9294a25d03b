using System.Runtime.InteropServices;

namespace Shrink.Ir;

/// <summary>Reading a float32 tensor's values for one use without loading it: what a pass that replaces weights layer by layer needs.</summary>
public sealed partial class Tensor
{
    /// <summary>The buffers <see cref="ReadFloats"/> lends; two are kept (the largest layers).</summary>
    private static readonly FloatBuffers WeightBuffers = new(capacity: 2);

    /// <summary>
    /// The float32 values for reading, valid until the result is disposed: a loaded tensor's own bytes, or an unloaded tensor's
    /// read into a pooled buffer, the tensor staying unloaded. A pass that turns a big model's float weights into others one at
    /// a time thus reuses one buffer the size of the largest layer instead of loading (and later dropping) every weight. An
    /// unloaded tensor of more than 2 GiB is read too, up to the <see cref="Array.MaxLength"/> values one array holds.
    /// </summary>
    public FloatsLease ReadFloats()
    {
        Require(DataType.Float);
        if (IsLoaded) return new FloatsLease(Data);
        var count = ByteLength / sizeof(float);
        if (count > Array.MaxLength)
            throw new InvalidOperationException($"tensor '{Name}' holds {count:N0} float32 values, more than one array can ({Array.MaxLength:N0}); read it in parts with {nameof(Read)}");
        var buffer = WeightBuffers.Rent((int)count);
        for (long at = 0; at < count; at += ChunkBytes / sizeof(float))
        {
            var part = buffer.AsSpan((int)at, (int)Math.Min(ChunkBytes / sizeof(float), count - at));
            Read(at * sizeof(float), MemoryMarshal.AsBytes(part));
        }
        return new FloatsLease(buffer, (int)count, WeightBuffers);
    }

    /// <summary>
    /// Writes the elements as float64 into <paramref name="destination"/> (at least <see cref="ElementCount"/> long): a float32
    /// tensor read as <see cref="ReadFloats"/> reads it, without loading it; other numeric types through <see cref="ToDoubles()"/>.
    /// </summary>
    public void ReadDoubles(Span<double> destination)
    {
        if (DataType != DataType.Float)
        {
            ToDoubles().CopyTo(destination);
            return;
        }
        using var lease = ReadFloats();
        var source = lease.Values;
        for (var i = 0; i < source.Length; i++) destination[i] = source[i];
    }
}

/// <summary>
/// Float32 values lent by <see cref="Tensor.ReadFloats"/>; disposing gives a pooled buffer back (once, however often it is
/// disposed), after which <see cref="Values"/> throws.
/// </summary>
public sealed class FloatsLease : IDisposable
{
    private readonly byte[]? _loaded;
    private float[]? _pooled;
    private readonly int _count;
    private readonly FloatBuffers? _pool;
    private volatile bool _disposed;

    /// <summary>A loaded tensor's own bytes: nothing to give back.</summary>
    internal FloatsLease(byte[] loaded) => _loaded = loaded;

    /// <summary>The first <paramref name="count"/> values of <paramref name="pooled"/>, given back to <paramref name="pool"/> on disposal.</summary>
    internal FloatsLease(float[] pooled, int count, FloatBuffers pool) => (_pooled, _count, _pool) = (pooled, count, pool);

    /// <summary>The values.</summary>
    public ReadOnlySpan<float> Values
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _loaded is not null ? MemoryMarshal.Cast<byte, float>(_loaded) : _pooled.AsSpan(0, _count);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        if (Interlocked.Exchange(ref _pooled, null) is { } buffer) _pool!.Return(buffer);
    }
}
