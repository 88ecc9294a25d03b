using Shrink.Onnx;

namespace Shrink.Ir;

/// <summary>
/// Deep copies in memory, for <see cref="Model.Clone"/> and <see cref="Graph.Clone"/>: every graph and
/// subgraph, node, value (type, shape, constant data), attribute, metadata entry and residue is copied;
/// nothing is shared with the original and nothing goes through serialisation. Each value is copied once
/// (a reference map), so a value read in several places — an initializer that is also an input, an outer
/// value a subgraph reads — is one value in the copy too. Nodes are copied in the order the reader builds
/// them (a node's subgraphs, then its inputs, then its outputs), so every value's use list comes out in
/// the order a fresh read of the written file would give.
/// </summary>
internal sealed class Cloner
{
    private readonly Dictionary<Value, Value> _values = new(ReferenceEqualityComparer.Instance);

    public Model Model(Model m)
    {
        var copy = new Model(Graph(m.Graph))
        {
            IrVersion = m.IrVersion,
            ProducerName = m.ProducerName,
            ProducerVersion = m.ProducerVersion,
            Domain = m.Domain,
            ModelVersion = m.ModelVersion,
            DocString = m.DocString,
            Residue = Residues.Clone(m.Residue),
        };
        copy.OpsetImports.AddRange(m.OpsetImports);
        copy.Metadata.AddRange(m.Metadata);
        return copy;
    }

    public Graph Graph(Graph g)
    {
        var copy = new Graph(g.Name) { DocString = g.DocString, Residue = Residues.Clone(g.Residue) };
        copy.Inputs.AddRange(g.Inputs.Select(Value));
        copy.Initializers.AddRange(g.Initializers.Select(Value));
        foreach (var n in g.Nodes) copy.AddNode(Node(n));
        copy.Outputs.AddRange(g.Outputs.Select(Value));
        copy.ValueInfos.AddRange(g.ValueInfos.Select(Value));
        return copy;
    }

    private Node Node(Node n)
    {
        var copy = new Node(n.OpType, n.Domain, n.Name) { DocString = n.DocString, Residue = Residues.Clone(n.Residue) };
        copy.Attributes.AddRange(n.Attributes.Select(Attribute));
        foreach (var v in n.Inputs) copy.AddInput(v is null ? null : Value(v));
        foreach (var v in n.Outputs) copy.AddOutput(v is null ? null : Value(v));
        return copy;
    }

    /// <summary>The copy of <paramref name="v"/>, made on first sight; its producer is set when the producing node is copied.</summary>
    private Value Value(Value v)
    {
        if (_values.TryGetValue(v, out var copy)) return copy;
        copy = new Value(v.Name, v.ElementType, v.Shape) // Shape and Dim are immutable: shared
        {
            OpaqueType = (byte[]?)v.OpaqueType?.Clone(),
            Const = v.Const?.Clone(),
            ValueInfoResidue = Residues.Clone(v.ValueInfoResidue),
        };
        _values[v] = copy;
        return copy;
    }

    private Attribute Attribute(Attribute a) => new(a.Name, a.Kind, AttributeValue(a.Value))
    {
        DocString = a.DocString,
        RefAttrName = a.RefAttrName,
        TypeOmitted = a.TypeOmitted,
        Residue = Residues.Clone(a.Residue),
    };

    /// <summary>Attribute values by kind: numbers are immutable, arrays, tensors and graphs are copied.</summary>
    private object? AttributeValue(object? value) => value switch
    {
        byte[] b => b.Clone(),
        byte[][] bs => bs.Select(b => (byte[])b.Clone()).ToArray(),
        float[] fs => fs.Clone(),
        long[] ints => ints.Clone(),
        Tensor t => t.Clone(),
        Tensor[] ts => ts.Select(t => t.Clone()).ToArray(),
        Graph g => Graph(g),
        Graph[] gs => gs.Select(Graph).ToArray(),
        _ => value,
    };
}
