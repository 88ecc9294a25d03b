using Shrink.Ir;
using Shrink.Runtime;

namespace Shrink.Data;

/// <summary>
/// A data source held in memory: one host tensor per input, samples on axis 0 (a float, int64, int32,
/// uint8, ... array), and optional class labels. Reads copy rows; the arrays are used as given.
/// </summary>
public sealed class InMemorySource : IDataSource
{
    private readonly HostTensor[] _tensors;
    private readonly int[]? _labels;

    /// <summary>Creates a source from tensors that all hold the same number of samples on axis 0.</summary>
    /// <param name="name">What the data is, for printing.</param>
    /// <param name="tensors">One tensor per input, [N, …].</param>
    /// <param name="labels">N class indices in [0, <paramref name="classCount"/>), or null for inputs only.</param>
    /// <param name="classCount">Number of classes; required with labels.</param>
    /// <exception cref="DataException">The tensors disagree on N, a label is out of range.</exception>
    public InMemorySource(string name, IReadOnlyList<HostTensor> tensors, int[]? labels = null, int? classCount = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("a data source needs at least one input", nameof(tensors));
        var n = tensors[0].Shape.Length == 0 ? -1 : tensors[0].Shape[0];
        foreach (var t in tensors)
        {
            if (t.Shape.Length == 0 || t.Shape[0] != n)
                throw new DataException($"{name}: input '{t.Name}' has shape [{string.Join(",", t.Shape)}]; every input needs the same number of samples ({n}) on axis 0");
            if (t.Data.Length != t.Shape.Aggregate(1L, (a, d) => a * d))
                throw new DataException($"{name}: input '{t.Name}' holds {t.Data.Length} values, not the {string.Join("×", t.Shape)} its shape says");
        }
        if (labels is not null) DataChecks.Labels(labels, classCount ?? throw new ArgumentException("labels need a class count", nameof(classCount)), n, name);
        (Name, _tensors, _labels, ClassCount, Count) = (name, tensors.ToArray(), labels, labels is null ? null : classCount, (int)n);
        Inputs = tensors.Select(t => new DataInput(t.Name, ElementTypeOf(t.Data), t.Shape.Skip(1).Select(d => checked((int)d)).ToArray())).ToArray();
    }

    /// <summary>A labelled image <see cref="Dataset"/> as a source with one float32 input named <paramref name="inputName"/>.</summary>
    internal static InMemorySource From(Dataset data, string inputName = "image")
    {
        ArgumentNullException.ThrowIfNull(data);
        var shape = new long[] { data.Count }.Concat(data.SampleShape.Select(d => (long)d)).ToArray();
        return new InMemorySource(data.Source, new[] { new HostTensor(inputName, data.Images, shape) }, data.Labels, data.ClassCount);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public IReadOnlyList<DataInput> Inputs { get; }

    /// <inheritdoc/>
    public int? ClassCount { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <inheritdoc/>
    public DataBatch Read(int[] samples, int epoch = 0)
    {
        ArgumentNullException.ThrowIfNull(samples);
        DataChecks.Indices(samples, Count, Name);
        var inputs = new HostTensor[_tensors.Length];
        for (var i = 0; i < _tensors.Length; i++)
        {
            var t = _tensors[i];
            var row = Inputs[i].SampleSize;
            var data = Array.CreateInstance(t.Data.GetType().GetElementType()!, samples.Length * row);
            for (var s = 0; s < samples.Length; s++) Array.Copy(t.Data, samples[s] * row, data, s * row, row);
            inputs[i] = new HostTensor(t.Name, data, new long[] { samples.Length }.Concat(t.Shape.Skip(1)).ToArray());
        }
        return new DataBatch(inputs, _labels is null ? null : samples.Select(s => _labels[s]).ToArray());
    }

    /// <summary>The ONNX element type of a host array.</summary>
    public static DataType ElementTypeOf(Array data) => data switch
    {
        float[] => DataType.Float,
        double[] => DataType.Double,
        Half[] => DataType.Float16,
        long[] => DataType.Int64,
        int[] => DataType.Int32,
        short[] => DataType.Int16,
        sbyte[] => DataType.Int8,
        byte[] => DataType.UInt8,
        bool[] => DataType.Bool,
        _ when data.GetType().GetElementType()?.Name == "Float16" => DataType.Float16,
        _ => throw new DataException($"arrays of {data.GetType().GetElementType()?.Name} are not supported as model inputs; use float32, float64, float16, int64, int32, int16, int8, uint8 or bool"),
    };

    /// <inheritdoc/>
    public override string ToString() => this.Describe();
}
