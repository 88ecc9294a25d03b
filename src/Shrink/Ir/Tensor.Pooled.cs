using System.Buffers;
using System.Runtime.InteropServices;

namespace Shrink.Ir;

/// <summary>Reading a float32 tensor's values for one use without loading it: what a pass that replaces weights layer by layer needs.</summary>
public sealed partial class Tensor
{
    /// <summary>
    /// The buffers <see cref="ReadFloats"/> lends: a pool of Shrink's own, since the shared pool drops its buffers at every full
    /// collection, which a pass over a big model causes often; it keeps two per power-of-two size (the largest layers).
    /// </summary>
    private static readonly ArrayPool<byte> WeightBuffers = ArrayPool<byte>.Create(1 << 30, 2);

    /// <summary>
    /// The float32 values for reading, valid until the result is disposed: a loaded tensor's own bytes, or an unloaded tensor's
    /// read into a pooled buffer, the tensor staying unloaded. A pass that turns a big model's float weights into others one at
    /// a time thus reuses one buffer the size of the largest layer instead of loading (and later dropping) every weight.
    /// </summary>
    public FloatsLease ReadFloats()
    {
        Require(DataType.Float);
        if (IsLoaded) return new FloatsLease(Floats, null);
        var buffer = WeightBuffers.Rent(checked((int)ByteLength));
        Read(0, buffer.AsSpan(0, (int)ByteLength));
        return new FloatsLease(MemoryMarshal.Cast<byte, float>(buffer.AsSpan(0, (int)ByteLength)), buffer, WeightBuffers);
    }
}

/// <summary>Float32 values lent by <see cref="Tensor.ReadFloats"/>; disposing returns a pooled buffer (the span must not be used after).</summary>
public ref struct FloatsLease
{
    private byte[]? _pooled;
    private readonly ArrayPool<byte>? _pool;

    internal FloatsLease(ReadOnlySpan<float> values, byte[]? pooled, ArrayPool<byte>? pool = null)
    {
        Values = values;
        (_pooled, _pool) = (pooled, pool);
    }

    /// <summary>The values.</summary>
    public ReadOnlySpan<float> Values { get; private set; }

    public void Dispose()
    {
        Values = default;
        if (_pooled is null) return;
        _pool!.Return(_pooled);
        _pooled = null;
    }
}
