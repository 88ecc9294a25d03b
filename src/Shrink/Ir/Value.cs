namespace Shrink.Ir;

/// <summary>A use of a value: <see cref="Node"/>'s input number <see cref="Index"/>.</summary>
public readonly record struct Use(Node Node, int Index);

/// <summary>
/// A named value in a graph: a graph input, a node output, or an initializer (constant).
/// Each value knows its producer and every use, so the graph can be edited safely while iterating.
/// </summary>
public sealed class Value
{
    private readonly List<Use> _uses = new();

    public Value(string name, DataType elementType = DataType.Undefined, Shape? shape = null)
    {
        Name = name;
        ElementType = elementType;
        Shape = shape;
    }

    public string Name { get; set; }

    /// <summary>Element type, <see cref="DataType.Undefined"/> when not known.</summary>
    public DataType ElementType { get; set; }

    /// <summary>Shape, or null when even the rank is not known.</summary>
    public Shape? Shape { get; set; }

    /// <summary>The serialized ONNX TypeProto of a non-tensor value (sequence, map, optional), kept as is.</summary>
    public byte[]? OpaqueType { get; set; }

    /// <summary>The constant data when this value is an initializer.</summary>
    public Tensor? Const { get; set; }

    /// <summary>The node that produces this value, or null for graph inputs and initializers.</summary>
    public Node? Producer { get; internal set; }

    /// <summary>Which output of <see cref="Producer"/> this is.</summary>
    public int ProducerIndex { get; internal set; }

    /// <summary>Every node input that reads this value (including nodes inside subgraphs).</summary>
    public IReadOnlyList<Use> Uses => _uses;

    /// <summary>True when this value holds constant data.</summary>
    public bool IsInitializer => Const is not null;

    internal Google.Protobuf.IMessage? ValueInfoResidue { get; set; }

    internal void AddUse(Node node, int index) => _uses.Add(new Use(node, index));

    internal void RemoveUse(Node node, int index)
    {
        var i = _uses.IndexOf(new Use(node, index));
        if (i >= 0) _uses.RemoveAt(i);
    }

    /// <summary>Element type and shape, e.g. <c>float32[N,1,28,28]</c>.</summary>
    public string TypeString => (ElementType == DataType.Undefined ? "?" : ElementType.ShortName()) + (Shape?.ToString() ?? "[?]");

    public override string ToString() => $"{Name}: {TypeString}";
}
