using System.Globalization;
using Shrink.Runtime;

namespace Shrink.Data.Sources;

/// <summary>
/// A NumPy <c>.npy</c> array of samples on axis 0 as a data source of one input named after the file (<c>x</c> for
/// <c>x.npy</c>), in the array's own element type; labels from the <c>.npy</c> beside it whose name ends in <c>y</c> where
/// this one's ends in <c>x</c> (<c>y.npy</c>, <c>train_y.npy</c>), when there is one. Only the header is read on opening:
/// each <see cref="Read"/> reads its samples' rows from the file, so an array larger than memory is never loaded whole.
/// </summary>
public sealed class NpySource : IDataSource
{
    private readonly long _dataOffset;
    private readonly NpyDType _dtype;
    private readonly long[] _shape;
    private readonly int _rowElements;
    private readonly int[]? _labels;

    private NpySource(string path, NpyDType dtype, long[] shape, long offset, int[]? labels, int? classes, string? labelsPath)
    {
        (Path, _dtype, _shape, _dataOffset, _labels, ClassCount, LabelsPath) = (path, dtype, shape, offset, labels, classes, labelsPath);
        _rowElements = checked((int)shape.Skip(1).Aggregate(1L, (a, d) => a * d));
        var input = System.IO.Path.GetFileNameWithoutExtension(path);
        Inputs = [new DataInput(input, NpyArrays.ElementType(dtype), shape.Skip(1).Select(d => checked((int)d)).ToArray())];
        Name = $"NumPy array {path}: {Count.ToString("N0", CultureInfo.InvariantCulture)} samples of {Inputs[0]}"
            + (labels is null ? ", no labels" : $", {classes} classes ({System.IO.Path.GetFileName(labelsPath)})");
    }

    /// <summary>
    /// Opens <paramref name="path"/> and the labels beside it. <see cref="DataOptions.ClassCount"/> sets the number of
    /// classes (else the largest label plus one).
    /// </summary>
    /// <exception cref="DataException">The file is not a readable <c>.npy</c> of at least one axis, or the labels do not fit it.</exception>
    public static NpySource Open(string path, DataOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        NpyDType dtype;
        long[] shape;
        long offset;
        using (var stream = DataFiles.Open(path, "npy file"))
        {
            (dtype, shape) = NpyHeader.Parse(NpyHeader.Read(stream, path), path);
            offset = stream.Position;
            CheckLength(path, dtype, shape, stream.Length - offset);
        }
        var labelsPath = LabelsBeside(path);
        if (labelsPath is null) return new NpySource(path, dtype, shape, offset, null, null, null);
        var (labels, classes) = NpyArrays.Labels(NpyFile.Read(labelsPath), shape[0], options?.ClassCount, labelsPath);
        return new NpySource(path, dtype, shape, offset, labels, classes, labelsPath);
    }

    /// <summary>The array file.</summary>
    public string Path { get; }

    /// <summary>The labels file, or null.</summary>
    public string? LabelsPath { get; }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Count => (int)_shape[0];

    /// <inheritdoc/>
    public IReadOnlyList<DataInput> Inputs { get; }

    /// <inheritdoc/>
    public int? ClassCount { get; }

    /// <inheritdoc/>
    public DataBatch Read(int[] samples, int epoch = 0)
    {
        DataChecks.Indices(samples, Count, Name);
        var data = NpyArrays.New(_dtype, checked(samples.Length * _rowElements));
        var bytes = NpyArrays.Bytes(data);
        var rowBytes = _rowElements * _dtype.ItemSize();
        try
        {
            using var handle = File.OpenHandle(Path);
            for (var i = 0; i < samples.Length; i++)
                if (RandomAccess.Read(handle, bytes.Slice(i * rowBytes, rowBytes), _dataOffset + (long)samples[i] * rowBytes) < rowBytes)
                    throw new DataException($"'{Text.Message.Name(Path, 200)}' ended before sample {samples[i]}; the file was changed while it was read, open it again");
        }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e))
        {
            throw new DataException($"'{Text.Message.Name(Path, 200)}' cannot be read any more ({Text.Message.OneLine(e.Message, 120)}); check the file", e);
        }
        var shape = new long[] { samples.Length }.Concat(_shape.Skip(1)).ToArray();
        return new DataBatch([new HostTensor(Inputs[0].Name, data, shape)], _labels is null ? null : samples.Select(s => _labels[s]).ToArray());
    }

    /// <summary>The labels file beside <paramref name="path"/> (its name's last <c>x</c> before the extension turned into <c>y</c>), when it exists.</summary>
    internal static string? LabelsBeside(string path)
    {
        var stem = System.IO.Path.GetFileNameWithoutExtension(path);
        if (!stem.EndsWith('x') && !stem.EndsWith('X')) return null;
        var labels = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path) ?? "", stem[..^1] + (stem.EndsWith('x') ? "y" : "Y") + ".npy");
        return File.Exists(labels) ? labels : null;
    }

    private static void CheckLength(string path, NpyDType dtype, long[] shape, long actual)
    {
        var shapeText = $"({string.Join(", ", shape)})";
        if (shape.Length == 0) throw new DataException($"'{Text.Message.Name(path, 200)}' holds a 0-d array; save the samples on axis 0, shape (N, ...)");
        if (shape[0] > int.MaxValue || shape.Skip(1).Aggregate(1.0, (a, d) => a * d) * dtype.ItemSize() > Array.MaxLength / 64)
            throw new DataException($"'{Text.Message.Name(path, 200)}' has shape {shapeText}: too many samples or too large a sample for Shrink; split it into smaller files");
        var expected = NpyHeader.DataBytes(dtype, shape);
        if (expected > actual)
            throw new DataException($"'{Text.Message.Name(path, 200)}' is truncated: shape {shapeText} of {dtype.Descr()} needs {expected} data bytes but {actual} follow the header; write it again");
        if (expected < actual)
            throw new DataException($"'{Text.Message.Name(path, 200)}' has {actual - expected} bytes after the data of shape {shapeText}; the file is corrupt, write it again");
    }
}
