using Shrink.Ir;
using Shrink.Runtime;

namespace Shrink.Data;

/// <summary>
/// How a data source feeds a model: each input of the model (a graph input that is not an
/// initializer) is matched to the source's input of the same name — or, when the model and the source
/// each have exactly one input, to that one whatever its name. Shapes must agree on every known axis
/// after the batch axis (a model taking [N, C·H·W] also takes [C, H, W] samples, flattened); int32 and
/// int64 convert into each other (token ids), float64 into float32; anything else is refused with one
/// line naming the input, what the model takes and what the data gives. Extra source inputs are unused.
/// </summary>
public sealed class DataBinding
{
    private readonly (Value Model, int Source, bool Flatten)[] _pairs;

    private DataBinding(IDataSource source, (Value, int, bool)[] pairs, int? fixedBatch)
        => (Source, _pairs, FixedBatch) = (source, pairs, fixedBatch);

    /// <summary>The source bound.</summary>
    public IDataSource Source { get; }

    /// <summary>The batch size the model requires, when its first axis is a fixed number.</summary>
    public int? FixedBatch { get; }

    /// <summary>Model input name → source input name, in the model's input order.</summary>
    public IReadOnlyList<(string ModelInput, string SourceInput)> Pairs => _pairs.Select(p => (p.Model.Name, Source.Inputs[p.Source].Name)).ToArray();

    /// <summary>Binds <paramref name="source"/> to <paramref name="model"/>, or throws one line saying why it does not fit.</summary>
    /// <exception cref="DataException">An input is missing or has the wrong shape or type.</exception>
    public static DataBinding For(Model model, IDataSource source, string? modelName = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return For(ModelInputs(model), source, modelName);
    }

    /// <summary>
    /// Binds <paramref name="source"/> to a model's data inputs given as values (an ONNX Runtime session's inputs,
    /// <see cref="Runtime.OnnxRunner.InputValues"/>), or throws one line saying why it does not fit.
    /// </summary>
    /// <exception cref="DataException">An input is missing or has the wrong shape or type.</exception>
    public static DataBinding For(IReadOnlyList<Value> inputs, IDataSource source, string? modelName = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(source);
        if (Misfit(inputs, source, modelName) is { } reason) throw new DataException(reason);
        var pairs = inputs.Select(v => (v, Match(v, inputs.Count, source)!.Value, Flattens(v, source.Inputs[Match(v, inputs.Count, source)!.Value]))).ToArray();
        var batch = inputs.Select(v => v.Shape is { Rank: > 0 } s && s[0].Value is { } b && b > 0 ? (int?)b : null).FirstOrDefault(b => b is not null);
        return new DataBinding(source, pairs, batch);
    }

    /// <summary>Null when <paramref name="source"/> fits <paramref name="model"/>, else the one-line reason.</summary>
    public static string? Misfit(Model model, IDataSource source, string? modelName = null) => Misfit(ModelInputs(model), source, modelName);

    /// <summary>Null when <paramref name="source"/> fits a model with these data inputs, else the one-line reason.</summary>
    public static string? Misfit(IReadOnlyList<Value> inputs, IDataSource source, string? modelName = null)
    {
        var what = modelName ?? "the model";
        foreach (var v in inputs)
        {
            if (Match(v, inputs.Count, source) is not { } i)
                return $"{source.Name} has no input '{v.Name}' ({Describe(v)}) that {what} takes; it has {string.Join(", ", source.Inputs.Select(x => x.Name))}; give one array per model input, named like it";
            var given = source.Inputs[i];
            if (!Converts(given.ElementType, v.ElementType))
                return $"input '{v.Name}' of {what} takes {Describe(v)} but {source.Name} gives {given}; give {v.ElementType.ShortName()} data for it";
            if (!ShapeFits(v.Shape, given.SampleShape) && !Flattens(v, given))
                return $"input '{v.Name}' of {what} takes {Describe(v)} but {source.Name} gives samples of {given}; give data of the model's input shape";
        }
        return null;
    }

    /// <summary>
    /// Null when the labels of <paramref name="source"/> (if any) are classes of <paramref name="model"/>'s first output
    /// (the one accuracy and training score, when it is [batch, classes] of a known size), else the one-line reason:
    /// checked when the data is opened, so no work is done before a label out of range stops it.
    /// </summary>
    public static string? LabelMisfit(Model model, IDataSource source, string? modelName = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(source);
        if (source.ClassCount is not { } n || model.Graph.Outputs.FirstOrDefault() is not { Shape: { Rank: 2 } shape } output) return null;
        return shape[1].Value is { } classes && n > classes
            ? $"{source.Name} has labels up to {n - 1}, but output '{output.Name}' of {modelName ?? "the model"} has {classes} classes; give labels in [0, {classes})"
            : null;
    }

    /// <summary>The model's inputs for a batch of the source: named like the model's, converted and reshaped as bound.</summary>
    public IReadOnlyList<HostTensor> ModelInputs(DataBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return _pairs.Select(p =>
        {
            var t = batch.Inputs[p.Source];
            var shape = p.Flatten ? new long[] { batch.Count, t.Data.Length / Math.Max(1, batch.Count) } : t.Shape;
            return new HostTensor(p.Model.Name, Convert(t.Data, p.Model.ElementType), shape);
        }).ToArray();
    }

    /// <summary>The graph inputs that take data (initializers that are also inputs excluded).</summary>
    public static List<Value> ModelInputs(Model model) => model.Graph.Inputs.Where(i => !i.IsInitializer).ToList();

    private static int? Match(Value v, int modelInputs, IDataSource source)
    {
        var i = source.Inputs.Select((x, k) => (x, k)).FirstOrDefault(p => p.x.Name == v.Name, (null!, -1)).Item2;
        if (i >= 0) return i;
        return modelInputs == 1 && source.Inputs.Count == 1 ? 0 : null;
    }

    private static bool ShapeFits(Shape? shape, int[] sample) =>
        shape is null || shape.Rank == sample.Length + 1 && shape.Dims.Skip(1).Zip(sample).All(p => p.First.Value is null || p.First.Value == p.Second);

    private static bool Flattens(Value v, DataInput given) =>
        v.Shape is { Rank: 2 } s && given.SampleShape.Length > 1 && s[1].Value is { } n && n == given.SampleSize;

    private static bool Converts(DataType from, DataType to) => from == to || to == DataType.Undefined
        || from is DataType.Int32 or DataType.Int64 && to is DataType.Int32 or DataType.Int64
        || from == DataType.Double && to == DataType.Float;

    private static Array Convert(Array data, DataType to) => (data, to) switch
    {
        (int[] d, DataType.Int64) => d.Select(x => (long)x).ToArray(),
        (long[] d, DataType.Int32) => d.Select(x => checked((int)x)).ToArray(),
        (double[] d, DataType.Float) => d.Select(x => (float)x).ToArray(),
        _ => data,
    };

    private static string Describe(Value v) => $"{v.ElementType.ShortName()}{v.Shape?.ToString() ?? "[?]"}";
}
