using Shrink.Data;
using Shrink.Training.Execution;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training;

/// <summary>
/// Mini-batches of a data source in a seeded order: epoch e of seed s always visits the samples in the
/// same order, so a run resumed at any batch sees what an uninterrupted run would have seen. Batches are read
/// by sample index (<see cref="IDataSource.Read"/>); while one batch trains, the next is read on a background
/// task (decoding an image folder overlaps the step), which changes nothing that is read.
/// </summary>
public sealed class BatchLoader
{
    private readonly IDataSource _data;
    private (int[] Order, int Batch, int Epoch, Task<DataBatch> Read)? _next;

    /// <exception cref="DataException">The source is empty.</exception>
    /// <exception cref="OptionsException">The batch size is below 1.</exception>
    public BatchLoader(IDataSource data, int batchSize, int seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new DataException($"the training set ({data.Name}) is empty");
        if (batchSize < 1) throw new OptionsException($"batch size {batchSize} is out of range; use 1 or more");
        _data = data;
        BatchSize = batchSize;
        Seed = seed;
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

    /// <summary>The sample indices of batch <paramref name="batch"/> of an order.</summary>
    public int[] Samples(int[] order, int batch)
    {
        var start = batch * BatchSize;
        return order.AsSpan(start, Math.Min(BatchSize, order.Length - start)).ToArray();
    }

    /// <summary>
    /// Batch <paramref name="batch"/> of an order as the source gives it (<paramref name="epoch"/> seeds its augmentation),
    /// and the next batch of the same order started on a background task.
    /// </summary>
    public DataBatch Read(int[] order, int batch, int epoch = 0)
    {
        var read = _next is { } n && ReferenceEquals(n.Order, order) && n.Batch == batch && n.Epoch == epoch ? n.Read : Start(order, batch, epoch);
        _next = batch + 1 < Batches ? (order, batch + 1, epoch, Start(order, batch + 1, epoch)) : null;
        try
        {
            return read.GetAwaiter().GetResult();
        }
        catch
        {
            _next = null;
            throw;
        }
    }

    /// <summary>
    /// Batch <paramref name="batch"/> of an order for an executor: the sample indices, one tensor per model input (in the
    /// binding's order, the executor's input order) and the labels as int64 [B], or null when the source has none.
    /// The tensors belong to the caller's dispose scope.
    /// </summary>
    public (int[] Samples, Tensor[] Inputs, Tensor? Labels) Get(int[] order, int batch, DataBinding binding, int epoch = 0)
    {
        ArgumentNullException.ThrowIfNull(binding);
        var data = Read(order, batch, epoch);
        var inputs = binding.ModelInputs(data).Select(TorchTensors.FromHost).ToArray();
        var labels = data.Labels is { } y ? torch.tensor(y.Select(v => (long)v).ToArray(), new long[] { y.Length }) : null;
        return (Samples(order, batch), inputs, labels);
    }

    private Task<DataBatch> Start(int[] order, int batch, int epoch)
    {
        var samples = Samples(order, batch);
        return Task.Run(() => _data.Read(samples, epoch));
    }
}
