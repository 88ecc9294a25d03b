using System.Buffers;
using Shrink.Ir;

namespace Shrink.Passes.Pruning;

/// <summary>The tensor edit of the cut: an initializer sliced along one axis, read in ranges so that an external weight is never loaded.</summary>
public sealed partial class ChannelCut
{
    /// <summary>
    /// Keeps the given indices (in the given order) along an axis of an initializer, replacing its tensor by the slice (the
    /// old tensor is dropped with it). A loaded tensor is copied from its bytes; an unloaded one (external data) is read in
    /// windows of up to <see cref="Tensor.ChunkBytes"/> of whole runs through one pooled buffer and stays unloaded, so the
    /// cut of a big model holds the kept slices, not its weights.
    /// </summary>
    internal static void SliceTensor(Value v, int axis, long[] keep)
    {
        var t = v.Const!;
        var dims = t.Dims;
        long inner = 1;
        for (var i = axis + 1; i < dims.Length; i++) inner *= dims[i];
        var outer = t.ElementCount / (dims[axis] * inner);
        var run = inner * t.DataType.ByteCount(1);
        var data = new byte[outer * keep.Length * run];
        if (t.IsLoaded || t.DataType.BitWidth() % 8 != 0) CopyLoaded(t.SharedBytes, data, outer, dims[axis], run, keep);
        else CopyRanges(t, data, outer, dims[axis], run, keep);
        var newDims = (long[])dims.Clone();
        newDims[axis] = keep.Length;
        v.Const = new Tensor(t.Name, t.DataType, newDims, data);
        v.Shape = Shape.Of(newDims);
    }

    /// <summary>Run (o, keep[k]) of <paramref name="source"/>, [outer, channels] runs of <paramref name="run"/> bytes, to run (o, k) of <paramref name="data"/>.</summary>
    private static void CopyLoaded(byte[] source, byte[] data, long outer, long channels, long run, long[] keep)
    {
        for (long o = 0; o < outer; o++)
            for (var k = 0; k < keep.Length; k++)
                Buffer.BlockCopy(source, (int)((o * channels + keep[k]) * run), data, (int)((o * keep.Length + k) * run), (int)run);
    }

    /// <summary>
    /// As <see cref="CopyLoaded"/>, reading <paramref name="t"/> without loading it: a run of a chunk or more straight into
    /// its place, else through one pooled buffer of at most <see cref="Tensor.ChunkBytes"/>: whole rows (all channels of
    /// several o) a read when a row fits, else windows of a row's channels, each from the next kept channel.
    /// </summary>
    private static void CopyRanges(Tensor t, byte[] data, long outer, long channels, long run, long[] keep)
    {
        if (run >= Tensor.ChunkBytes)
        {
            for (long o = 0; o < outer; o++)
                for (var k = 0; k < keep.Length; k++)
                    t.Read((o * channels + keep[k]) * run, data.AsSpan((int)((o * keep.Length + k) * run), (int)run));
            return;
        }
        var window = Tensor.ChunkBytes / run; // runs a read
        var buffer = ArrayPool<byte>.Shared.Rent((int)(Math.Min(window, outer * channels) * run));
        try
        {
            if (window >= channels) CopyRows(t, buffer, window / channels, data, outer, channels, run, keep);
            else CopyWindows(t, buffer, window, data, outer, channels, run, keep);
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>Reads <paramref name="rows"/> whole rows at a time and copies their kept runs.</summary>
    private static void CopyRows(Tensor t, byte[] buffer, long rows, byte[] data, long outer, long channels, long run, long[] keep)
    {
        for (long o0 = 0; o0 < outer; o0 += rows)
        {
            var n = Math.Min(rows, outer - o0);
            t.Read(o0 * channels * run, buffer.AsSpan(0, (int)(n * channels * run)));
            for (long o = 0; o < n; o++)
                for (var k = 0; k < keep.Length; k++)
                    buffer.AsSpan((int)((o * channels + keep[k]) * run), (int)run).CopyTo(data.AsSpan((int)(((o0 + o) * keep.Length + k) * run)));
        }
    }

    /// <summary>Per row, reads <paramref name="window"/> runs from the next kept channel and copies every kept run inside them.</summary>
    private static void CopyWindows(Tensor t, byte[] buffer, long window, byte[] data, long outer, long channels, long run, long[] keep)
    {
        var order = Enumerable.Range(0, keep.Length).OrderBy(k => keep[k]).ToArray(); // the kept runs in channel order
        for (long o = 0; o < outer; o++)
            for (var next = 0; next < order.Length;)
            {
                var c0 = keep[order[next]];
                var n = Math.Min(window, channels - c0);
                t.Read((o * channels + c0) * run, buffer.AsSpan(0, (int)(n * run)));
                for (; next < order.Length && keep[order[next]] < c0 + n; next++)
                    buffer.AsSpan((int)((keep[order[next]] - c0) * run), (int)run).CopyTo(data.AsSpan((int)((o * keep.Length + order[next]) * run)));
            }
    }
}
