using System.Globalization;
using System.IO.Compression;
using Shrink.Ir;
using Shrink.Runtime;

namespace Shrink.Data.Sources;

/// <summary>
/// A NumPy <c>.npz</c> file (<c>numpy.savez</c> or <c>savez_compressed</c>: a zip of <c>.npy</c> members, stored or deflated)
/// as a data source: one input per array, named like it (<c>input_ids</c> for <c>input_ids.npy</c>), in the array's element
/// type (int64 and int32 token ids included), samples on axis 0; the array <c>labels</c>, when present, holds the class
/// labels. Given a model, the inputs are the model's inputs, each an array of that name (a one-input model also takes the
/// file's one array whatever its name). The arrays are read into memory on opening.
/// </summary>
public sealed class NpzSource : IDataSource
{
    /// <summary>The name of the array of class labels.</summary>
    public const string LabelsArray = "labels";

    private readonly InMemorySource _inner;

    private NpzSource(string path, InMemorySource inner) => (Path, _inner) = (path, inner);

    /// <summary>Opens <paramref name="path"/>; <paramref name="model"/>, when given, names the arrays to read.</summary>
    /// <exception cref="DataException">Not a zip of <c>.npy</c> members, a model input with no array, arrays disagreeing on the sample count, or labels that do not fit.</exception>
    public static NpzSource Open(string path, DataOptions? options = null, Model? model = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var arrays = ReadArrays(path);
        var inputs = Chosen(arrays, model, path);
        var n = arrays[inputs[0]].Shape is [var first, ..] ? first : 0;
        foreach (var array in inputs.Append(LabelsArray).Where(arrays.ContainsKey))
            if (arrays[array].Shape.Length == 0 || arrays[array].Shape[0] != n)
                throw new DataException($"'{Text.Message.Name(path, 200)}': array '{Text.Message.Name(array)}' has shape ({string.Join(", ", arrays[array].Shape)}) but '{Text.Message.Name(inputs[0])}' holds {n} samples; give every array the same number of samples on axis 0");
        var tensors = inputs.Select(name => new HostTensor(name, NpyArrays.ToHost(arrays[name]), arrays[name].Shape)).ToArray();
        var (labels, classes) = arrays.TryGetValue(LabelsArray, out var y) ? NpyArrays.Labels(y, n, options?.ClassCount, $"'{Text.Message.Name(path, 200)}' array '{LabelsArray}'") : (null, 0);
        var name = $"NumPy archive {path}: {n.ToString("N0", CultureInfo.InvariantCulture)} samples of {string.Join(", ", tensors.Select(t => $"{t.Name}: {InMemorySource.ElementTypeOf(t.Data).ShortName()}[{string.Join(",", t.Shape.Skip(1))}]"))}"
            + (labels is null ? ", no labels" : $", {classes} classes");
        return new NpzSource(path, new InMemorySource(name, tensors, labels, labels is null ? null : classes));
    }

    /// <summary>The archive.</summary>
    public string Path { get; }

    /// <inheritdoc/>
    public string Name => _inner.Name;

    /// <inheritdoc/>
    public int Count => _inner.Count;

    /// <inheritdoc/>
    public IReadOnlyList<DataInput> Inputs => _inner.Inputs;

    /// <inheritdoc/>
    public int? ClassCount => _inner.ClassCount;

    /// <inheritdoc/>
    public DataBatch Read(int[] samples, int epoch = 0) => _inner.Read(samples, epoch);

    /// <inheritdoc/>
    public override string ToString() => Name;

    /// <summary>The arrays that become inputs: the model's (each by name, or the one array for a one-input model), else every array but the labels.</summary>
    private static string[] Chosen(Dictionary<string, NpyArray> arrays, Model? model, string path)
    {
        var candidates = arrays.Keys.Where(k => k != LabelsArray).Order(StringComparer.Ordinal).ToArray();
        if (candidates.Length == 0)
            throw new DataException($"'{Text.Message.Name(path, 200)}' holds no input arrays (only {Text.Message.List(arrays.Keys.Select(k => Text.Message.Name(k)))}); save one array per model input, e.g. np.savez(path, input=x, labels=y)");
        if (model is null) return candidates;
        var wanted = DataBinding.ModelInputs(model);
        if (wanted.Count == 1 && candidates.Length == 1) return candidates;
        foreach (var v in wanted)
            if (!arrays.ContainsKey(v.Name))
                throw new DataException($"'{Text.Message.Name(path, 200)}' has no array '{Text.Message.Name(v.Name)}' for the model's input of that name; it has {Text.Message.List(arrays.Keys.Order(StringComparer.Ordinal).Select(k => Text.Message.Name(k)))}; save one array per model input, named like it");
        return wanted.Select(v => v.Name).ToArray();
    }

    private static Dictionary<string, NpyArray> ReadArrays(string path)
    {
        using var file = DataFiles.Open(path, "npz file");
        try
        {
            using var zip = new ZipArchive(file, ZipArchiveMode.Read);
            var arrays = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
            foreach (var entry in zip.Entries.Where(e => !e.FullName.EndsWith('/')))
            {
                var member = entry.FullName.EndsWith(".npy", StringComparison.Ordinal) ? entry.FullName[..^4] : entry.FullName;
                if (entry.Length > Array.MaxLength)
                    throw new DataException($"'{Text.Message.Name(path, 200)}' member '{Text.Message.Name(entry.FullName)}' inflates to {entry.Length} bytes, more than Shrink reads from one array; split it into smaller files");
                using var stream = entry.Open();
                arrays[member] = NpyFile.Read(stream, $"{path}:{entry.FullName}");
            }
            return arrays;
        }
        catch (InvalidDataException e)
        {
            throw new DataException($"'{Text.Message.Name(path, 200)}' is not a readable .npz (zip) file ({Text.Message.OneLine(e.Message, 120)}); write it again with numpy.savez", e);
        }
    }
}
