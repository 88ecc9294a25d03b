using Shrink.Ir;
using Shrink.Runtime;

namespace Shrink.Data;

/// <summary>
/// One input a data source gives each sample: its name, its element type and the shape of one sample
/// (no batch axis). A source whose samples vary in size along an axis (token sequences, images of
/// several sizes) has no fixed shape there and pads or crops to one size per source.
/// </summary>
public sealed record DataInput(string Name, DataType ElementType, int[] SampleShape)
{
    /// <summary>Number of elements in one sample.</summary>
    public long SampleSize => SampleShape.Aggregate(1L, (a, d) => checked(a * d));

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {ElementType.ShortName()}[{string.Join(",", SampleShape)}]";
}

/// <summary>
/// Samples for a model: named inputs, optional class labels and a known count, read by sample index.
/// Reading is random access, so a seeded shuffled order (training) and a sequential pass (evaluation,
/// calibration) read the same way, and a source larger than memory (an image folder) is read batch by
/// batch and never held whole. Implementations are safe for concurrent <see cref="Read"/> calls.
/// </summary>
/// <remarks>
/// Think of it as PyTorch's map-style <c>Dataset</c> with the collation built in, or an ONNX Runtime
/// <c>CalibrationDataReader</c> that can also be shuffled. Sources in this library: in memory
/// (<see cref="InMemorySource"/>), IDX files, NumPy <c>.npy</c>/<c>.npz</c>, image folders, CSV tables.
/// </remarks>
public interface IDataSource
{
    /// <summary>What the data is and where it came from, as commands print it and write it in JSON.</summary>
    string Name { get; }

    /// <summary>Number of samples.</summary>
    int Count { get; }

    /// <summary>The inputs each sample holds, in a fixed order.</summary>
    IReadOnlyList<DataInput> Inputs { get; }

    /// <summary>Number of classes when the samples carry class labels; null for inputs only (label-free).</summary>
    int? ClassCount { get; }

    /// <summary>The name of each class (index order) when the source knows them (an image folder's class folders); else null.</summary>
    IReadOnlyList<string>? ClassNames => null;

    /// <summary>
    /// Whether a sample can read differently from one epoch to the next (random augmentation). A consumer that caches
    /// what a model computes on the samples (a teacher's logits) may do so only when this is false.
    /// </summary>
    bool Augments => false;

    /// <summary>
    /// Samples <paramref name="samples"/> (indices in [0, <see cref="Count"/>)) as one batch: each input
    /// stacked on a new first axis, in the order given. <paramref name="epoch"/> seeds random
    /// augmentation (a source without augmentation ignores it), so the same sample of the same epoch
    /// always reads the same, whatever batch it is in.
    /// </summary>
    /// <exception cref="DataException">A sample cannot be read (a corrupt file, named).</exception>
    DataBatch Read(int[] samples, int epoch = 0);
}

/// <summary>
/// A batch of samples: one host tensor per input of the source (shape [Count, …sample shape]),
/// in the source's input order, and the class labels when the source has them.
/// </summary>
public sealed class DataBatch
{
    /// <summary>Creates a batch; every tensor's first axis must be the same count, and so must the labels'.</summary>
    public DataBatch(IReadOnlyList<HostTensor> inputs, int[]? labels)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0) throw new ArgumentException("a batch needs at least one input", nameof(inputs));
        var count = inputs[0].Shape.Length == 0 ? throw new ArgumentException($"input '{inputs[0].Name}' has no batch axis", nameof(inputs)) : inputs[0].Shape[0];
        foreach (var t in inputs)
            if (t.Shape.Length == 0 || t.Shape[0] != count)
                throw new ArgumentException($"input '{t.Name}' has shape [{string.Join(",", t.Shape)}]; every input of a batch holds {count} samples on axis 0", nameof(inputs));
        if (labels is not null && labels.Length != count)
            throw new ArgumentException($"{labels.Length} labels for a batch of {count} samples", nameof(labels));
        (Inputs, Labels, Count) = (inputs, labels, (int)count);
    }

    /// <summary>One tensor per input, stacked on axis 0.</summary>
    public IReadOnlyList<HostTensor> Inputs { get; }

    /// <summary>The class index of each sample, or null when the source has no labels.</summary>
    public int[]? Labels { get; }

    /// <summary>Number of samples.</summary>
    public int Count { get; }

    /// <summary>The tensor of input <paramref name="name"/>.</summary>
    public HostTensor Input(string name) => Inputs.FirstOrDefault(t => t.Name == name)
        ?? throw new KeyNotFoundException($"the batch has no input '{name}' (it has {string.Join(", ", Inputs.Select(t => t.Name))})");
}

/// <summary>The data a command trains on and the data it measures on.</summary>
/// <param name="Train">Samples to train, fine-tune and calibrate on.</param>
/// <param name="Test">Held-out samples to evaluate on.</param>
public sealed record DataSplits(IDataSource Train, IDataSource Test);
