namespace Shrink.Ir;

/// <summary>The editing API used by passes. Every method keeps producers and use lists consistent.</summary>
public sealed partial class Graph
{
    /// <summary>Appends a node at the end of the node list.</summary>
    public Node AddNode(Node node) => InsertAt(_nodes.Count, node);

    /// <summary>Inserts <paramref name="node"/> just before <paramref name="anchor"/>.</summary>
    public Node InsertBefore(Node anchor, Node node) => InsertAt(IndexOf(anchor), node);

    /// <summary>Inserts <paramref name="node"/> just after <paramref name="anchor"/>.</summary>
    public Node InsertAfter(Node anchor, Node node) => InsertAt(IndexOf(anchor) + 1, node);

    /// <summary>
    /// Removes a node. Its outputs must be unused (not read by any node nor a graph output) unless
    /// <paramref name="force"/> is set; rewire them first with <see cref="ReplaceAllUsesWith"/>.
    /// </summary>
    public void RemoveNode(Node node, bool force = false)
    {
        var i = IndexOf(node);
        if (!force)
        {
            var used = node.Outputs.OfType<Value>().FirstOrDefault(v => v.Uses.Count > 0 || Outputs.Contains(v));
            if (used is not null)
                throw new InvalidOperationException($"cannot remove node '{node.DisplayName}': its output '{used.Name}' is still used");
        }
        node.DetachInputs();
        foreach (var v in node.Outputs.OfType<Value>()) v.Producer = null;
        _nodes.RemoveAt(i);
        node.Graph = null;
    }

    /// <summary>
    /// Replaces <paramref name="node"/> by <paramref name="replacements"/> (inserted where it stood):
    /// each output of the old node is rewired to the value at the same position in <paramref name="newOutputs"/>.
    /// </summary>
    public void ReplaceNode(Node node, IReadOnlyList<Node> replacements, IReadOnlyList<Value> newOutputs)
    {
        if (newOutputs.Count != node.Outputs.Count)
            throw new ArgumentException($"node '{node.DisplayName}' has {node.Outputs.Count} outputs, {newOutputs.Count} replacements given");
        var at = IndexOf(node);
        foreach (var r in replacements) InsertAt(at++, r);
        for (var i = 0; i < newOutputs.Count; i++)
            if (node.Outputs[i] is { } old) ReplaceAllUsesWith(old, newOutputs[i]);
        RemoveNode(node);
    }

    /// <summary>Rewires every use of <paramref name="old"/> (node inputs and graph outputs) to <paramref name="replacement"/>.</summary>
    public void ReplaceAllUsesWith(Value old, Value replacement)
    {
        if (ReferenceEquals(old, replacement)) return;
        foreach (var use in old.Uses.ToArray()) use.Node.SetInput(use.Index, replacement);
        for (var i = 0; i < Outputs.Count; i++)
            if (Outputs[i] == old)
            {
                Outputs[i] = replacement;
                if (replacement.Name != old.Name && replacement.Producer is not null && !Inputs.Contains(replacement))
                    (replacement.Name, old.Name) = (old.Name, UniqueName(old.Name));
            }
    }

    /// <summary>Adds an initializer value holding <paramref name="tensor"/>; the tensor's name is made unique.</summary>
    public Value AddInitializer(Tensor tensor)
    {
        tensor.Name = UniqueName(tensor.Name);
        var v = new Value(tensor.Name, tensor.DataType, tensor.Shape) { Const = tensor };
        Initializers.Add(v);
        return v;
    }

    /// <summary>Removes initializers that nothing reads any more (and that are not graph inputs or outputs).</summary>
    public int RemoveUnusedInitializers()
    {
        var removed = Initializers.RemoveAll(v => v.Uses.Count == 0 && !Inputs.Contains(v) && !Outputs.Contains(v));
        return removed;
    }

    /// <summary>
    /// Removes the initializer <paramref name="v"/> when nothing reads it any more (and it is no graph input or output);
    /// returns whether it did. A pass that replaces layers one at a time drops each old weight at once, so a big model's
    /// replaced weights are never all held together.
    /// </summary>
    public bool RemoveInitializerIfUnused(Value v) =>
        v.Uses.Count == 0 && !Inputs.Contains(v) && !Outputs.Contains(v) && Initializers.Remove(v);

    /// <summary>A name not yet used by any value or node of this graph, built from <paramref name="hint"/>.</summary>
    public string UniqueName(string hint)
    {
        var taken = Values.Select(v => v.Name).Concat(_nodes.Select(n => n.Name)).ToHashSet();
        if (!taken.Contains(hint)) return hint;
        for (var i = 1; ; i++)
            if (!taken.Contains($"{hint}_{i}")) return $"{hint}_{i}";
    }

    private Node InsertAt(int index, Node node)
    {
        if (node.Graph is not null)
            throw new InvalidOperationException($"node '{node.DisplayName}' already belongs to a graph");
        _nodes.Insert(index, node);
        node.Graph = this;
        foreach (var sub in node.Subgraphs) sub.OwnerNode = node;
        return node;
    }

    private int IndexOf(Node node)
    {
        var i = _nodes.IndexOf(node);
        if (i < 0) throw new ArgumentException($"node '{node.DisplayName}' is not in graph '{Name}'");
        return i;
    }
}
