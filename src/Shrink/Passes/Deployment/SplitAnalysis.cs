using Shrink.Ir;

namespace Shrink.Passes.Deployment;

/// <summary>
/// What cutting a model costs, read from its graph (data, no edits): the nodes in topological order with constant
/// nodes left out (Constants and the Casts of weights that half-precision storage writes: a part copies those it reads,
/// so they never cross a cut, and ONNX Runtime folds the Casts when it loads the part), the weights each node
/// reads, when each activation is defined and last read, and its bytes at a batch size. From these it gives the bytes
/// crossing each cut, a range of nodes' weights (shared weights counted once) and its peak activation memory.
/// </summary>
public sealed class SplitAnalysis
{
    private readonly Dictionary<Value, int> _defined = new();
    private readonly Dictionary<Value, int> _lastRead = new();
    private readonly Dictionary<Value, long> _bytes = new();
    private readonly HashSet<Value> _graphOutputs;
    private readonly Value[][] _weights;
    private readonly Value[][] _reads;
    private readonly long[] _crossing;
    private readonly int[] _fusing;

    /// <summary>
    /// Ops whose output ONNX Runtime folds into the one node that reads it (Conv+BatchNormalization, Conv+Add with the
    /// residual as the sum input, MatMul+Add into Gemm, Gemm+activation, LayerNormalization fusions): computed whole,
    /// such a pair may round differently from the two nodes run apart, so a cut between them costs bit-exactness.
    /// </summary>
    public static readonly IReadOnlySet<string> FusingProducers = new HashSet<string>
    {
        "Conv", "ConvTranspose", "MatMul", "Gemm", "BatchNormalization", "InstanceNormalization", "LayerNormalization",
        "Add", "Sub", "Mul", "Div",
    };

    private SplitAnalysis(Graph graph, int batch)
    {
        Order = graph.TopologicalOrder().Where(n => !IsConstant(n)).ToList();
        _graphOutputs = graph.Outputs.ToHashSet();
        _weights = new Value[Order.Count][];
        _reads = new Value[Order.Count][];
        foreach (var v in graph.Inputs.Where(v => !v.IsInitializer)) _defined[v] = -1;
        for (var i = 0; i < Order.Count; i++)
        {
            var reads = Reads(Order[i]).Distinct().ToList();
            _weights[i] = reads.Where(IsWeight).ToArray();
            _reads[i] = reads.Where(v => !IsWeight(v)).ToArray();
            foreach (var v in _reads[i]) _lastRead[v] = i;
            foreach (var v in Order[i].Outputs.OfType<Value>()) _defined[v] = i;
        }
        foreach (var v in _defined.Keys) _bytes[v] = ActivationBytes(v, batch) ?? -1;
        var fallback = Math.Max(1, _bytes.Values.DefaultIfEmpty(0).Max());
        foreach (var v in _bytes.Keys.Where(v => _bytes[v] < 0).ToList()) _bytes[v] = fallback;
        _crossing = CrossingBytes();
        _fusing = FusingCuts();
    }

    /// <summary>The nodes that parts are cut from, in the order they run (Constant nodes left out).</summary>
    public IReadOnlyList<Node> Order { get; }

    /// <summary>Analyses <paramref name="model"/>'s main graph; activation bytes take <paramref name="batch"/> for a symbolic first dimension and 1 for other symbols.</summary>
    public static SplitAnalysis Of(Model model, int batch) => new(model.Graph, batch);

    /// <summary>Bytes of the activations defined before node <paramref name="cut"/> (by a node) and read at or after it.</summary>
    public long CrossingAt(int cut) => _crossing[cut];

    /// <summary>How many tensors crossing cut <paramref name="cut"/> come from a <see cref="FusingProducers"/> op and have one reader, which ONNX Runtime could fuse with it.</summary>
    public int FusingAt(int cut) => _fusing[cut];

    /// <summary>Bytes of the weights nodes <paramref name="first"/>..<paramref name="last"/> read, each tensor once.</summary>
    public long WeightBytes(int first, int last)
    {
        var seen = new HashSet<Value>();
        long total = 0;
        for (var i = first; i <= last; i++)
            foreach (var w in _weights[i])
                if (seen.Add(w)) total += TensorBytes(w);
        return total;
    }

    /// <summary>
    /// Weight bytes of every range starting at <paramref name="first"/>: entry k is nodes first..first+k. Stops after
    /// the first entry over <paramref name="stopAbove"/>.
    /// </summary>
    public List<long> WeightRow(int first, long stopAbove = long.MaxValue)
    {
        var seen = new HashSet<Value>();
        var row = new List<long>(Order.Count - first);
        long total = 0;
        for (var i = first; i < Order.Count; i++)
        {
            foreach (var w in _weights[i])
                if (seen.Add(w)) total += TensorBytes(w);
            row.Add(total);
            if (total > stopAbove) break;
        }
        return row;
    }

    /// <summary>
    /// The most activation bytes alive at once while nodes <paramref name="first"/>..<paramref name="last"/> run as one
    /// model: its inputs from the start until their last read inside it, each value from its node until its last read,
    /// and its outputs until the end.
    /// </summary>
    public long PeakActivationBytes(int first, int last)
    {
        var delta = new long[last - first + 2];
        foreach (var (v, from, to) in Lifetimes(first, last))
        {
            delta[from - first] += _bytes[v];
            delta[to - first + 1] -= _bytes[v];
        }
        long live = 0, peak = 0;
        for (var t = 0; t <= last - first; t++) peak = Math.Max(peak, live += delta[t]);
        return peak;
    }

    /// <summary>The graph inputs and activations of other parts that nodes first..last read, in order of first read.</summary>
    public IReadOnlyList<Value> InputsOf(int first, int last) =>
        Enumerable.Range(first, last - first + 1).SelectMany(i => _reads[i]).Where(v => _defined[v] < first).Distinct().ToList();

    /// <summary>What nodes first..last define that a later node reads or that is a graph output, in order of definition.</summary>
    public IReadOnlyList<Value> OutputsOf(int first, int last) =>
        Enumerable.Range(first, last - first + 1).SelectMany(i => Order[i].Outputs.OfType<Value>())
            .Where(v => _graphOutputs.Contains(v) || (_lastRead.TryGetValue(v, out var r) && r > last)).ToList();

    /// <summary>The index in <see cref="Order"/> of the node defining <paramref name="v"/> (−1 for a graph input).</summary>
    public int DefinedAt(Value v) => _defined[v];

    /// <summary>Bytes of an activation at the analysis's batch size (an estimate where its shape is not known).</summary>
    public long BytesOf(Value v) => _bytes[v];

    /// <summary>The indices of the nodes that read <paramref name="v"/>.</summary>
    public IEnumerable<int> Readers(Value v) => Enumerable.Range(0, Order.Count).Where(i => _reads[i].Contains(v));

    /// <summary>Values read by a node: its inputs and what its subgraphs read from the graphs around them.</summary>
    public static IEnumerable<Value> Reads(Node n) =>
        n.Inputs.OfType<Value>().Concat(n.Subgraphs.SelectMany(OuterReads));

    /// <summary>
    /// True for a node parts copy instead of passing its output: a Constant of the default domain, or a Cast of a weight
    /// (a float16 or bfloat16 initializer read as float32: <c>convert-precision</c>'s storage, folded by ONNX Runtime on load).
    /// </summary>
    public static bool IsConstant(Node n) => n.IsDefaultDomain && (n.OpType == "Constant"
        || n.OpType == "Cast" && n.Inputs.Count == 1 && n.Inputs[0] is { } x && IsWeight(x));

    /// <summary>True for an initializer or a constant node's output.</summary>
    public static bool IsWeight(Value v) => v.IsInitializer || v.Producer is { } p && IsConstant(p);

    /// <summary>Bytes of a weight's data as stored (a Cast weight: its stored input's, which the part's file holds).</summary>
    public static long TensorBytes(Value w) => Graph.ConstantOf(w) is { } t ? t.ByteLength
        : w.Producer is { OpType: "Cast" } cast && cast.Inputs[0] is { } stored ? TensorBytes(stored) : 0;

    private static IEnumerable<Value> OuterReads(Graph g)
    {
        var own = g.Values.ToHashSet();
        return g.Nodes.SelectMany(Reads).Where(v => !own.Contains(v));
    }

    private IEnumerable<(Value V, int From, int To)> Lifetimes(int first, int last)
    {
        foreach (var v in InputsOf(first, last))
            yield return (v, first, LastReadWithin(v, first, last));
        for (var i = first; i <= last; i++)
            foreach (var v in Order[i].Outputs.OfType<Value>())
            {
                var kept = _graphOutputs.Contains(v) || (_lastRead.TryGetValue(v, out var r) && r > last);
                yield return (v, i, kept ? last : Math.Max(i, LastReadWithin(v, i, last)));
            }
    }

    private int LastReadWithin(Value v, int first, int last)
    {
        for (var i = last; i >= first; i--)
            if (Array.IndexOf(_reads[i], v) >= 0) return i;
        return first;
    }

    private long[] CrossingBytes()
    {
        var delta = new long[Order.Count + 1];
        foreach (var (v, def) in _defined)
        {
            if (def < 0 || !_lastRead.TryGetValue(v, out var last) || last <= def) continue;
            delta[def + 1] += _bytes[v];
            delta[last + 1] -= _bytes[v];
        }
        var crossing = new long[Order.Count + 1];
        long running = 0;
        for (var c = 0; c <= Order.Count; c++) crossing[c] = running += delta[c];
        return crossing;
    }

    private int[] FusingCuts()
    {
        var fusing = new int[Order.Count + 1];
        foreach (var (v, def) in _defined)
        {
            if (def < 0 || !FusingProducers.Contains(Order[def].OpType) || !Order[def].IsDefaultDomain) continue;
            if (_graphOutputs.Contains(v) || !_lastRead.TryGetValue(v, out var last) || last <= def) continue;
            if (v.Uses.Select(u => u.Node).Distinct().Count() != 1) continue;
            for (var c = def + 1; c <= last; c++) fusing[c]++;
        }
        return fusing;
    }

    private static long? ActivationBytes(Value v, int batch)
    {
        if (v.Shape is not { } shape || !v.ElementType.IsKnown()) return null;
        long count = 1;
        for (var axis = 0; axis < shape.Rank; axis++)
            count = checked(count * (shape[axis].Value ?? (axis == 0 ? batch : 1)));
        return v.ElementType.ByteCount(count);
    }
}
