using Shrink.Data;
using Shrink.Ir;
using Shrink.Text;

namespace Shrink.Runtime;

/// <summary>Input checks and synthetic inputs.</summary>
public sealed partial class OnnxRunner
{
    /// <summary>
    /// The session's inputs as IR values (name, element type, shape with its symbolic axes), for binding data to
    /// them (<see cref="DataBinding.For(IReadOnlyList{Value}, IDataSource, string?)"/>).
    /// </summary>
    public IReadOnlyList<Value> InputValues() => Inputs.Select(spec => new Value(spec.Name, ElementTypeOf(spec),
        new Shape(spec.Dims.Select((d, i) => d >= 0 ? Dim.Of(d) : spec.Symbols[i] is { } s ? Dim.Symbol(s) : Dim.Unknown)))).ToList();

    private static DataType ElementTypeOf(TensorSpec spec)
    {
        try { return InMemorySource.ElementTypeOf(Array.CreateInstance(spec.ElementType, 0)); }
        catch (DataException) { return DataType.Undefined; }
    }

    /// <summary>Checks names, element types and fixed dimensions before ONNX Runtime sees the inputs.</summary>
    private void CheckInputs(IReadOnlyList<HostTensor> inputs)
    {
        foreach (var spec in Inputs)
            if (!inputs.Any(i => i.Name == spec.Name))
                throw new DataException($"'{Source}' needs input '{spec.Name}' ({spec}), which was not given");
        foreach (var t in inputs)
        {
            var spec = Inputs.FirstOrDefault(s => s.Name == t.Name)
                ?? throw new DataException($"'{Source}' has no input '{t.Name}'; its inputs are {string.Join(", ", Inputs.Select(i => i.Name))}");
            var type = t.Data.GetType().GetElementType();
            if (type != spec.ElementType)
                throw new DataException($"input '{t.Name}' is {type?.Name} but '{Source}' expects {spec.ElementType.Name}; convert the data");
            if (!ShapeFits(spec.Dims, t.Shape))
                throw new DataException($"input '{t.Name}' has shape [{string.Join(",", t.Shape)}] but '{Source}' expects {spec}; reshape the data");
            if (spec.Dims.Length > 0 && spec.Dims[0] < 0 && t.Shape[0] == 0)
                throw new DataException($"input '{t.Name}' has batch size 0 (shape [{string.Join(",", t.Shape)}]); give at least one sample");
            var count = InputBounds.Elements(t.Shape);
            if (count != t.Data.LongLength)
                throw new DataException($"input '{t.Name}': shape [{string.Join(",", t.Shape)}] needs {count} elements, the data has {t.Data.LongLength}");
        }
    }

    private static bool ShapeFits(long[] expected, long[] actual) =>
        expected.Length == actual.Length && expected.Zip(actual).All(p => p.First < 0 || p.First == p.Second);

    /// <summary>The sizes of symbolic dimensions, as messages name them (<see cref="RunnerOptions.DimValues"/>).</summary>
    internal static OptionName Dims { get; } = OptionName.Of(nameof(RunnerOptions.DimValues));

    /// <summary>
    /// The concrete shape of an input for a batch size: the first dynamic axis is the batch, other
    /// symbolic axes come from <see cref="RunnerOptions.DimValues"/>.
    /// </summary>
    public long[] ConcreteShape(TensorSpec spec, int batch)
    {
        var shape = new long[spec.Dims.Length];
        for (var i = 0; i < shape.Length; i++)
        {
            if (spec.Dims[i] >= 0) { shape[i] = spec.Dims[i]; continue; }
            var symbol = spec.Symbols[i];
            if (symbol is not null && Options.DimValues.TryGetValue(symbol, out var v))
                shape[i] = v >= 1 ? v : throw new OptionsException(OptionText.Of($"{Dims} {symbol}={v} is out of range; give a positive size"));
            else if (i == 0) shape[i] = batch;
            else throw new OptionsException(OptionText.Of($"input '{spec.Name}' of '{Source}' has dynamic axis {i} ('{symbol ?? "?"}'); give it a size with {Dims} {symbol ?? "NAME"}=SIZE"));
        }
        return shape;
    }

    /// <summary>
    /// Checks, allocating nothing, that the inputs <see cref="RandomInputs"/> would make for
    /// <paramref name="batch"/> fit: none over 2 GiB, all together within the memory available.
    /// Returns their shapes; throws <see cref="OptionsException"/> naming the batch size, the input and its bytes.
    /// </summary>
    public IReadOnlyList<long[]> CheckInputSizes(int batch)
    {
        if (batch < 1) throw new OptionsException($"batch size {batch} is out of range; use 1 or more");
        var shapes = Inputs.Select(spec => ConcreteShape(spec, batch)).ToArray();
        InputBounds.Check(Inputs, shapes, batch, Source);
        return shapes;
    }

    private IReadOnlyDictionary<string, long>? _indexBounds;

    /// <summary>
    /// The integer inputs that only index the rows of constant tables (token ids into embeddings: every consumer a
    /// Gather of a constant on axis 0), each with the smallest table's row count; read once, from the outline of the model's
    /// file (its weights skipped) when the session was opened on one (none when that file can no longer be parsed), given by
    /// <see cref="FromModel"/> otherwise.
    /// </summary>
    internal IReadOnlyDictionary<string, long> IndexBounds
    {
        get => _indexBounds ??= File.Exists(Source) ? IndexInputs.Bounds(Source) : new Dictionary<string, long>();
        set => _indexBounds = value;
    }

    /// <summary>
    /// Seeded random inputs for a batch size: normal for floats; for integers, token ids spread over the table an input
    /// indexes (<see cref="IndexBounds"/>, a vocabulary), else 0 or 1 (a mask, a flag). The size of every input is
    /// checked before any is made: an input over 2 GiB, or inputs that together exceed the memory available, raise
    /// <see cref="OptionsException"/> naming the batch size and the input.
    /// </summary>
    public IReadOnlyList<HostTensor> RandomInputs(int batch, int seed = 0)
    {
        var shapes = CheckInputSizes(batch);
        var random = new Random(seed);
        var bounds = Inputs.Any(s => s.ElementType == typeof(long) || s.ElementType == typeof(int)) ? IndexBounds : new Dictionary<string, long>();
        return Inputs.Select((spec, i) =>
        {
            var shape = shapes[i];
            var n = (int)InputBounds.Elements(shape);
            var top = (int)Math.Min(int.MaxValue, bounds.GetValueOrDefault(spec.Name, 2));
            Array data = spec.ElementType == typeof(float) ? Enumerable.Range(0, n).Select(_ => (float)Gaussian(random)).ToArray()
                : spec.ElementType == typeof(long) ? Enumerable.Range(0, n).Select(_ => (long)random.Next(0, top)).ToArray()
                : spec.ElementType == typeof(int) ? Enumerable.Range(0, n).Select(_ => random.Next(0, top)).ToArray()
                : spec.ElementType == typeof(bool) ? Enumerable.Range(0, n).Select(_ => random.Next(2) == 1).ToArray()
                : throw new OptionsException($"input '{spec.Name}' is {spec.ElementType.Name}; Shrink cannot make random data of that type");
            return new HostTensor(spec.Name, data, shape);
        }).ToArray();
    }

    private static double Gaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}
