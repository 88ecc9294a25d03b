using Shrink.Data;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training;

/// <summary>
/// Mini-batches of a data set in a seeded order: epoch e of seed s always visits the samples in the
/// same order, so a run resumed at any batch sees what an uninterrupted run would have seen.
/// </summary>
public sealed class BatchLoader
{
    private readonly Dataset _data;
    private readonly float[] _x;
    private readonly long[] _y;

    public BatchLoader(Dataset data, int batchSize, int seed)
    {
        if (data.Count == 0) throw new DataException($"the training set ({data.Source}) is empty");
        if (batchSize < 1) throw new OptionsException($"batch size {batchSize} is out of range; use 1 or more");
        _data = data;
        BatchSize = batchSize;
        Seed = seed;
        var rows = Math.Min(batchSize, data.Count);  // a batch never holds more than the data set
        _x = new float[(long)rows * data.SampleSize];
        _y = new long[rows];
    }

    public int BatchSize { get; }
    public int Seed { get; }
    public int Batches => (int)(((long)_data.Count + BatchSize - 1) / BatchSize);

    /// <summary>The sample order of an epoch (Fisher–Yates with a generator seeded by seed and epoch).</summary>
    public int[] Order(int epoch)
    {
        var order = Enumerable.Range(0, _data.Count).ToArray();
        var random = new Random(unchecked(Seed * 1_000_003 + epoch * 7919 + 17));
        for (var i = order.Length - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>Batch <paramref name="batch"/> of an order: the sample indices, inputs [B, …] and int64 labels [B].</summary>
    public (int[] Samples, Tensor X, Tensor Y) Get(int[] order, int batch)
    {
        var start = batch * BatchSize;
        var count = Math.Min(BatchSize, order.Length - start);
        var size = _data.SampleSize;
        var samples = order.AsSpan(start, count).ToArray();
        for (var i = 0; i < count; i++)
        {
            var s = samples[i];
            Array.Copy(_data.Images, (long)s * size, _x, (long)i * size, size);
            _y[i] = _data.Labels[s];
        }
        var shape = new long[_data.SampleShape.Length + 1];
        shape[0] = count;
        for (var d = 0; d < _data.SampleShape.Length; d++) shape[d + 1] = _data.SampleShape[d];
        var x = count == _y.Length ? torch.tensor(_x, shape) : torch.tensor(_x.AsSpan(0, count * size).ToArray(), shape);
        var y = count == _y.Length ? torch.tensor(_y, new long[] { count }) : torch.tensor(_y.AsSpan(0, count).ToArray(), new long[] { count });
        return (samples, x, y);
    }
}
