namespace Shrink.Ir;

/// <summary>
/// A computation graph: inputs, outputs, initializers and nodes in file order. Nodes of a valid
/// graph may be in any order in memory; <see cref="TopologicalOrder"/> gives an execution order.
/// Editing goes through the methods in <c>Graph.Editing.cs</c>, which keep producers and uses consistent.
/// </summary>
public sealed partial class Graph
{
    private readonly List<Node> _nodes = new();

    public Graph(string name = "") => Name = name;

    public string Name { get; set; }
    public string? DocString { get; set; }

    /// <summary>Graph inputs in order (may include initializers, as in IR version 3 files).</summary>
    public List<Value> Inputs { get; } = new();

    /// <summary>Graph outputs in order.</summary>
    public List<Value> Outputs { get; } = new();

    /// <summary>Initializers in file order; each has <see cref="Value.Const"/> set.</summary>
    public List<Value> Initializers { get; } = new();

    /// <summary>Values with a <c>value_info</c> entry in the file, in file order.</summary>
    public List<Value> ValueInfos { get; } = new();

    /// <summary>Nodes in file order.</summary>
    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>The node whose attribute holds this graph (null for the main graph).</summary>
    public Node? OwnerNode { get; internal set; }

    internal Google.Protobuf.IMessage? Residue { get; set; }

    /// <summary>Every value defined in this graph: inputs, initializers, node outputs.</summary>
    public IEnumerable<Value> Values =>
        Inputs.Concat(Initializers).Concat(_nodes.SelectMany(n => n.Outputs).OfType<Value>()).Distinct();

    /// <summary>
    /// A deep copy of this graph and its subgraphs (see <see cref="Model.Clone"/>). Values the graph reads
    /// from enclosing graphs become free values of the copy (as when the graph is read on its own), so the
    /// copy shares nothing with the original; its <see cref="OwnerNode"/> is null.
    /// </summary>
    public Graph Clone() => new Cloner().Graph(this);

    /// <summary>Finds a value defined in this graph by name, or null.</summary>
    public Value? FindValue(string name) => Values.FirstOrDefault(v => v.Name == name);

    /// <summary>The initializer called <paramref name="name"/>, or null.</summary>
    public Value? FindInitializer(string name) => Initializers.Find(v => v.Name == name);

    /// <summary>Finds a node by name, or null.</summary>
    public Node? FindNode(string name) => _nodes.FirstOrDefault(n => n.Name == name);

    /// <summary>The constant tensor behind a value: an initializer, or the output of a Constant node with a tensor value.</summary>
    public static Tensor? ConstantOf(Value? v) => v switch
    {
        null => null,
        { Const: { } t } => t,
        { Producer: { OpType: "Constant" } p } when p.IsDefaultDomain => p.GetTensor("value"),
        _ => null,
    };

    /// <summary>
    /// Nodes in an order where each node comes after the producers of its inputs (stable: keeps file
    /// order where it can). Throws <see cref="GraphValidationException"/> naming a node on a cycle.
    /// </summary>
    public IReadOnlyList<Node> TopologicalOrder()
    {
        var indegree = new Dictionary<Node, int>();
        foreach (var n in _nodes)
            indegree[n] = NodeDependencies(n).Count(p => p.Graph == this);
        var ready = new PriorityQueue<Node, int>();
        var position = _nodes.Select((n, i) => (n, i)).ToDictionary(t => t.n, t => t.i);
        foreach (var (n, d) in indegree) if (d == 0) ready.Enqueue(n, position[n]);
        var order = new List<Node>(_nodes.Count);
        while (ready.TryDequeue(out var n, out _))
        {
            order.Add(n);
            foreach (var consumer in n.Outputs.OfType<Value>().SelectMany(ConsumersInThisGraph))
                if (--indegree[consumer] == 0) ready.Enqueue(consumer, position[consumer]);
        }
        if (order.Count != _nodes.Count)
        {
            var stuck = _nodes.First(n => indegree[n] > 0);
            throw new GraphValidationException(new[] { $"graph '{Name}' has a cycle through node '{stuck.DisplayName}' ({stuck.OpType})" });
        }
        return order;
    }

    /// <summary>Producers of every value a node reads, its subgraphs' outer-scope reads included (one entry per edge).</summary>
    private static IEnumerable<Node> NodeDependencies(Node n) =>
        ReadValues(n).Select(v => v.Producer).OfType<Node>();

    private static IEnumerable<Value> ReadValues(Node n) =>
        n.Inputs.OfType<Value>().Concat(n.Subgraphs.SelectMany(OuterReads));

    private static IEnumerable<Value> OuterReads(Graph g)
    {
        var own = g.Values.ToHashSet();
        return g._nodes.SelectMany(ReadValues).Where(v => !own.Contains(v));
    }

    /// <summary>For each use of <paramref name="v"/>, the node in this graph that depends on it (one entry per edge).</summary>
    private IEnumerable<Node> ConsumersInThisGraph(Value v) =>
        v.Uses.Select(u => OwnerInThisGraph(u.Node)).OfType<Node>();

    /// <summary>The node of this graph that is <paramref name="n"/> or holds it in a (nested) subgraph.</summary>
    private Node? OwnerInThisGraph(Node n)
    {
        Node? cur = n;
        while (cur is not null && cur.Graph != this) cur = cur.Graph?.OwnerNode;
        return cur;
    }

    public override string ToString() => $"graph {Name}: {Inputs.Count} inputs, {_nodes.Count} nodes, {Outputs.Count} outputs";
}
