using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>
/// What an inference function sees of one node: input types and shapes, constant inputs, the values
/// of small int64 "shape tensors" propagated from Shape ops, and the opset. It writes output types
/// and shapes, merging with anything already declared in the file.
/// </summary>
public sealed class InferenceContext
{
    private readonly Dictionary<Value, Dim[]> _shapeValues;
    private readonly List<string> _problems;

    internal InferenceContext(Node node, long opset, Dictionary<Value, Dim[]> shapeValues, List<string> problems)
    {
        Node = node;
        Opset = opset;
        _shapeValues = shapeValues;
        _problems = problems;
    }

    public Node Node { get; }
    public long Opset { get; }

    /// <summary>Sizes of symbolic dimensions (e.g. <c>sequence</c> → 128) that MAC counts use; empty during inference.</summary>
    public IReadOnlyDictionary<string, long> DimValues { get; init; } = new Dictionary<string, long>();

    /// <summary>Elements per sample of <paramref name="shape"/> with symbolic dimensions sized by <see cref="DimValues"/> (<see cref="MacCounting.PerSampleElements"/>).</summary>
    public long? PerSampleElements(Shape? shape) => MacCounting.PerSampleElements(shape, DimValues);

    /// <summary>The size of <paramref name="d"/>, symbolic dimensions sized by <see cref="DimValues"/>.</summary>
    public long? Size(Dim d) => MacCounting.Size(d, DimValues);

    public int InputCount => Node.Inputs.Count;
    public bool HasInput(int i) => i < Node.Inputs.Count && Node.Inputs[i] is not null;
    public Value? Input(int i) => i < Node.Inputs.Count ? Node.Inputs[i] : null;
    public Shape? InputShape(int i) => Input(i)?.Shape;
    public DataType InputType(int i) => Input(i)?.ElementType ?? DataType.Undefined;

    /// <summary>Rank of input <paramref name="i"/>, or null when unknown.</summary>
    public int? InputRank(int i) => InputShape(i)?.Rank;

    /// <summary>The constant tensor of input <paramref name="i"/> (initializer or Constant node), or null.</summary>
    public Tensor? ConstInput(int i) => Graph.ConstantOf(Input(i));

    /// <summary>
    /// The elements of a 0-d or 1-d integer input when they are known: from a constant, or propagated
    /// from Shape ops (elements may then be symbolic dims such as the batch size).
    /// </summary>
    public Dim[]? ShapeValue(int i)
    {
        var v = Input(i);
        if (v is null) return null;
        if (_shapeValues.TryGetValue(v, out var dims)) return dims;
        var t = Graph.ConstantOf(v);
        if (t is null || t.Dims.Length > 1 || t.ElementCount > 64 || t.DataType is not (DataType.Int64 or DataType.Int32)) return null;
        return t.ToInt64s().Select(Dim.Of).ToArray();
    }

    /// <summary>Known integer values of input <paramref name="i"/>, or null when any is unknown.</summary>
    public long[]? IntValues(int i) => ShapeValue(i) is { } d && d.All(x => x.IsKnown) ? d.Select(x => x.Value!.Value).ToArray() : null;

    /// <summary>Records the elements of a small int64 output (for Shape-chain propagation).</summary>
    public void SetShapeValue(int output, Dim[] dims)
    {
        if (output < Node.Outputs.Count && Node.Outputs[output] is { } v) _shapeValues[v] = dims;
    }

    /// <summary>Sets output <paramref name="i"/>'s type and shape; known facts already on the value are kept.</summary>
    public void SetOutput(int i, DataType type, Shape? shape)
    {
        if (i >= Node.Outputs.Count || Node.Outputs[i] is not { } v) return;
        if (v.ElementType != DataType.Undefined && type != DataType.Undefined && v.ElementType != type)
            Problem($"type mismatch at node '{Node.DisplayName}' ({Node.OpType}): output '{v.Name}' is declared {v.ElementType.ShortName()} but the op produces {type.ShortName()}");
        if (type != DataType.Undefined) v.ElementType = type;
        v.Shape = Merge(v.Shape, shape);
    }

    /// <summary>Output i gets the type and shape of input j.</summary>
    public void PassThrough(int output = 0, int input = 0) => SetOutput(output, InputType(input), InputShape(input));

    /// <summary>Output 0 gets input 0's type with an unknown shape.</summary>
    public void PassThroughRankless() => SetOutput(0, InputType(0), null);

    /// <summary>Integer attribute.</summary>
    public long Int(string name, long fallback) => Node.GetInt(name, fallback);

    /// <summary>Integer list attribute.</summary>
    public long[]? Ints(string name) => Node.GetInts(name);

    /// <summary>Records a problem (type mismatch, bad rank) for the validator.</summary>
    public void Problem(string message) => _problems.Add(message);

    /// <summary>Checks that inputs <paramref name="a"/> and <paramref name="b"/> have the same element type.</summary>
    public void RequireSameType(int a, int b)
    {
        var (ta, tb) = (InputType(a), InputType(b));
        if (ta != DataType.Undefined && tb != DataType.Undefined && ta != tb)
            Problem($"type mismatch at node '{Node.DisplayName}' ({Node.OpType}): input {a} '{Input(a)!.Name}' is {ta.ShortName()} but input {b} '{Input(b)!.Name}' is {tb.ShortName()}");
    }

    /// <summary>Normalizes a possibly negative axis for a tensor of the given rank.</summary>
    public static int Axis(long axis, int rank) => (int)(axis < 0 ? axis + rank : axis);

    /// <summary>
    /// <paramref name="axis"/> normalised against <paramref name="rank"/>, or null with a problem reported when
    /// it lies outside [−rank, rank) (or [−rank, rank] where <paramref name="endAllowed"/>, as Flatten's axis may).
    /// </summary>
    public int? CheckedAxis(long axis, int rank, string what = "axis", bool endAllowed = false)
    {
        var high = endAllowed ? rank : rank - 1;
        if (axis >= -rank && axis <= high) return Axis(axis, rank);
        Problem($"bad attribute at node '{Node.DisplayName}' ({Node.OpType}): {what} {axis} is outside [{-rank}, {high}] for an input of rank {rank}");
        return null;
    }

    private static Shape? Merge(Shape? declared, Shape? inferred)
    {
        if (inferred is null) return declared;
        if (declared is null || declared.Rank != inferred.Rank) return inferred;
        return new Shape(declared.Dims.Zip(inferred.Dims, (d, n) => n.IsKnown || d.Param is null && !d.IsKnown ? n with { Denotation = d.Denotation } : d));
    }
}
