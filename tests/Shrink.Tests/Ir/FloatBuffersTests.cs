using System.Runtime.InteropServices;
using Shrink.Ir;
using Xunit;

namespace Shrink.Tests.Ir;

/// <summary><see cref="Tensor.ReadFloats"/>: its pool's buffer sizes, a lease that gives its buffer back once, reads in chunks and past 2 GiB.</summary>
public class FloatBuffersTests
{
    [Theory]
    [InlineData(0, 16)]
    [InlineData(100, 128)]
    [InlineData(FloatBuffers.SmallLength, FloatBuffers.SmallLength)]
    [InlineData(FloatBuffers.SmallLength + 1, FloatBuffers.SmallLength + FloatBuffers.SmallLength / 8)]
    [InlineData(3_000_000, 3_145_728)]   // 2^21 < 3e6: steps of 2^18
    [InlineData(1 << 30, 1 << 30)]
    public void NewBuffers_ArePowersOfTwoWhenSmallAndEighthStepsAbove(int count, int expected) =>
        Assert.Equal(expected, FloatBuffers.RoundedLength(count));

    [Fact]
    public void LargeBuffers_AreLessThanAnEighthOverTheirCount()
    {
        var random = new Random(3);
        for (var i = 0; i < 1000; i++)
        {
            var count = random.Next(FloatBuffers.SmallLength + 1, Array.MaxLength);
            long length = FloatBuffers.RoundedLength(count);
            Assert.InRange(length, count, Math.Min(Array.MaxLength, count + count / 8L));
        }
        Assert.Equal(Array.MaxLength, FloatBuffers.RoundedLength(Array.MaxLength));
    }

    [Fact]
    public void ALeaseDisposedTwice_GivesItsBufferBackOnce()
    {
        var pool = new FloatBuffers(capacity: 2);
        var buffer = pool.Rent(1000);
        var lease = new FloatsLease(buffer, 1000, pool);
        var copy = lease;  // a copy of the lease is the same lease

        lease.Dispose();
        copy.Dispose();

        Assert.Throws<ObjectDisposedException>(() => lease.Values.Length);
        Assert.Same(buffer, pool.Rent(1000));
        Assert.NotSame(buffer, pool.Rent(1000));  // not lent twice
    }

    [Fact]
    public void ThePool_KeepsTheLargestBuffersAndLendsTheSmallestThatFits()
    {
        var pool = new FloatBuffers(capacity: 2);
        var (small, middle, large) = (pool.Rent(100), pool.Rent(10_000), pool.Rent(1_000_000));
        pool.Return(small);
        pool.Return(middle);
        pool.Return(large);  // three kept would be over capacity: the smallest goes

        Assert.Same(middle, pool.Rent(50));
        Assert.Same(large, pool.Rent(50));
        Assert.NotSame(small, pool.Rent(50));
        Assert.Throws<InvalidOperationException>(() => { pool.Return(middle); pool.Return(middle); });
    }

    [Fact]
    public void ReadFloats_OfAnUnloadedTensorOfSeveralChunks_ReadsItsValuesAndLeavesItUnloaded()
    {
        using var dir = new TempDirectory();
        var values = Enumerable.Range(0, 3 * Tensor.ChunkBytes / 8).Select(i => i * 0.5f).ToArray();  // 1.5 chunks
        File.WriteAllBytes(dir.File("w.data"), MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        var t = new Tensor("w", DataType.Float, new long[] { values.Length }, new DataRange(DataFile.Open(dir.File("w.data")), 0, values.Length * 4L));

        using (var lease = t.ReadFloats()) Assert.Equal(values, lease.Values.ToArray());

        Assert.False(t.IsLoaded);
        using var loaded = new Tensor("v", DataType.Float, new long[] { 3 }, MemoryMarshal.AsBytes(new[] { 1f, 2f, 3f }.AsSpan()).ToArray()).ReadFloats();
        Assert.Equal(new[] { 1f, 2f, 3f }, loaded.Values.ToArray());
    }

    [Fact]
    public void ReadFloats_OfMoreValuesThanAnArrayHolds_IsRefusedWithOneLine()
    {
        using var dir = new TempDirectory();
        var count = (long)Array.MaxLength + 1;
        using (var fs = new FileStream(dir.File("huge.data"), FileMode.Create)) fs.SetLength(count * 4);  // sparse: nothing written
        var t = new Tensor("huge", DataType.Float, new long[] { count }, new DataRange(DataFile.Open(dir.File("huge.data")), 0, count * 4));

        var e = Assert.Throws<InvalidOperationException>(() => t.ReadFloats());

        Assert.Equal($"tensor 'huge' holds {count:N0} float32 values, more than one array can ({Array.MaxLength:N0}); read it in parts with Read", e.Message);
    }
}
