namespace Shrink.Ir;

/// <summary>
/// An operator application: op type and domain, inputs and outputs (null for an omitted optional one),
/// attributes in file order. Rewire inputs with <see cref="SetInput"/> so uses stay consistent.
/// </summary>
public sealed class Node
{
    private readonly List<Value?> _inputs = new();
    private readonly List<Value?> _outputs = new();

    public Node(string opType, string domain = "", string name = "")
    {
        OpType = opType;
        Domain = domain;
        Name = name;
    }

    public string OpType { get; set; }

    /// <summary>Operator domain; "" is the default ONNX domain (also written "ai.onnx").</summary>
    public string Domain { get; set; }

    public string Name { get; set; }
    public string? DocString { get; set; }
    public List<Attribute> Attributes { get; } = new();
    public IReadOnlyList<Value?> Inputs => _inputs;
    public IReadOnlyList<Value?> Outputs => _outputs;

    /// <summary>The graph this node belongs to, once added.</summary>
    public Graph? Graph { get; internal set; }

    internal Google.Protobuf.IMessage? Residue { get; set; }

    /// <summary>Node name, or op type and first output when the node has no name: for messages.</summary>
    public string DisplayName => Name.Length > 0 ? Name : $"{OpType}→{Outputs.FirstOrDefault()?.Name ?? "?"}";

    /// <summary>True when the domain is ONNX's default domain.</summary>
    public bool IsDefaultDomain => Domain is "" or "ai.onnx";

    /// <summary>Appends an input (null for an omitted optional input).</summary>
    public Node AddInput(Value? value)
    {
        _inputs.Add(value);
        value?.AddUse(this, _inputs.Count - 1);
        return this;
    }

    /// <summary>Replaces input <paramref name="index"/>, keeping use lists consistent.</summary>
    public void SetInput(int index, Value? value)
    {
        _inputs[index]?.RemoveUse(this, index);
        _inputs[index] = value;
        value?.AddUse(this, index);
    }

    /// <summary>Drops trailing inputs past <paramref name="count"/>.</summary>
    public void TruncateInputs(int count)
    {
        for (var i = _inputs.Count - 1; i >= count; i--)
        {
            _inputs[i]?.RemoveUse(this, i);
            _inputs.RemoveAt(i);
        }
    }

    /// <summary>Appends an output value (null for an omitted optional output); the node becomes its producer.</summary>
    public Value? AddOutput(Value? value)
    {
        _outputs.Add(value);
        if (value is not null)
        {
            if (value.Producer is not null && value.Producer != this)
                throw new InvalidOperationException($"value '{value.Name}' is already produced by node '{value.Producer.DisplayName}'");
            value.Producer = this;
            value.ProducerIndex = _outputs.Count - 1;
        }
        return value;
    }

    /// <summary>Detaches this node from its inputs' use lists (used when removing it).</summary>
    internal void DetachInputs()
    {
        for (var i = 0; i < _inputs.Count; i++) _inputs[i]?.RemoveUse(this, i);
    }

    /// <summary>The attribute called <paramref name="name"/>, or null.</summary>
    public Attribute? GetAttribute(string name) => Attributes.Find(a => a.Name == name);

    public long GetInt(string name, long fallback) => GetAttribute(name)?.Value is long v ? v : fallback;
    public float GetFloat(string name, float fallback) => GetAttribute(name)?.Value is float v ? v : fallback;
    public long[]? GetInts(string name) => GetAttribute(name)?.Value as long[];
    public float[]? GetFloats(string name) => GetAttribute(name)?.Value as float[];
    public string? GetString(string name) => GetAttribute(name) is { Kind: AttributeKind.String } a ? a.AsString() : null;
    public Tensor? GetTensor(string name) => GetAttribute(name)?.Value as Tensor;

    /// <summary>Sets (adds or replaces) an attribute.</summary>
    public void SetAttribute(Attribute attribute)
    {
        var i = Attributes.FindIndex(a => a.Name == attribute.Name);
        if (i >= 0) Attributes[i] = attribute; else Attributes.Add(attribute);
    }

    /// <summary>Subgraphs held in attributes (If, Loop, Scan bodies).</summary>
    public IEnumerable<Graph> Subgraphs => Attributes.SelectMany(a => a.Value switch
    {
        Graph g => new[] { g },
        Graph[] gs => gs,
        _ => Array.Empty<Graph>(),
    });

    public override string ToString() =>
        $"{DisplayName} = {(IsDefaultDomain ? "" : Domain + ".")}{OpType}({string.Join(", ", Inputs.Select(v => v?.Name ?? ""))})";
}
