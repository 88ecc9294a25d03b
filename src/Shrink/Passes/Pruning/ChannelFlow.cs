using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Pruning;

/// <summary>
/// One position along a value's channel axis: channel <see cref="Index"/> of channel group
/// <see cref="Group"/> (an id in <see cref="ChannelFlow"/>), and after a Flatten the feature
/// <see cref="Sub"/> within that channel's block.
/// </summary>
public readonly record struct ChannelRef(int Group, int Index, int Sub);

/// <summary>The channel of every position along a value's channel axis: axis 1 of convolution maps (<see cref="Spatial"/>), else the last axis.</summary>
public sealed record ChannelLayout(ChannelRef[] Refs, bool Spatial)
{
    public int Length => Refs.Length;
}

/// <summary>Where a layer makes the channels of a group: its weight's output axis.</summary>
public sealed record ChannelProducer(Node Layer, Value Weight, int Axis, Value? Bias);

/// <summary>A per-channel tensor along the way (BatchNorm parameters, a depthwise Conv's weight and bias), indexed like <see cref="Input"/>'s channels.</summary>
public sealed record ChannelParameter(Node Layer, Value Tensor, int Axis, Value Input);

/// <summary>Where a layer reads channels: its weight's input axis, indexed like <see cref="Input"/>'s channels (per conv group when <see cref="ConvGroups"/> &gt; 1).</summary>
public sealed record ChannelConsumer(Node Layer, Value Weight, int Axis, Value Input, int ConvGroups);

/// <summary>
/// Channels that must be pruned together: those made by one producer (Conv, Gemm, MatMul), or by
/// several whose outputs a residual Add ties position by position.
/// </summary>
public sealed class ChannelGroup
{
    internal ChannelGroup(int id) => Id = id;

    public int Id { get; }
    public List<ChannelProducer> Producers { get; } = new();

    /// <summary>Outputs of ReLU-like activations that carry this group's channels (read by the activation criteria).</summary>
    public List<Value> Activations { get; } = new();

    /// <summary>Why the group cannot be pruned safely, or null.</summary>
    public string? Blocker { get; set; }

    public long Channels { get; internal set; }

    /// <summary>Group counts of grouped convolutions that make these channels: every conv group must lose as many.</summary>
    public SortedSet<int> EqualBlocks { get; } = new();

    /// <summary>Group counts of grouped convolutions that read these channels: every conv group must lose the same positions.</summary>
    public SortedSet<int> PatternBlocks { get; } = new();

    /// <summary>The kept count must stay divisible by these (channel shuffles).</summary>
    public SortedSet<int> Divisors { get; } = new();

    /// <summary>A name for reports: the producers' layer names.</summary>
    public string Name => string.Join("+", Producers.Select(p => p.Layer.DisplayName));

    /// <summary>The key of plans and scores: <see cref="Name"/>, made unique with the group id where node names repeat.</summary>
    public string Key { get; internal set; } = "";
}

/// <summary>Raised while cutting channels when the graph would route them differently than in the masked model.</summary>
public sealed class ChannelConflictException : Exception
{
    public ChannelConflictException(IReadOnlySet<int> groups, string reason) : base(reason) => Groups = groups;

    /// <summary>Ids of the groups involved.</summary>
    public IReadOnlySet<int> Groups { get; }
}

/// <summary>
/// Follows channels through a graph. <see cref="Analyze"/> gives each producer's channels a group
/// and propagates per-position layouts through ops that keep channels apart: BatchNorm, ReLU-like
/// activations, pooling, Dropout, depthwise Conv, residual Add (which ties groups together), Concat,
/// Split and Slice on the channel axis (offsets), channel shuffle (Reshape → Transpose → Reshape),
/// Flatten or a flattening Reshape before Gemm/MatMul (a channel becomes a block of features), and
/// grouped Conv. Shape reads are allowed: PyTorch exports compute Reshape and Slice targets from
/// them, and those follow the pruned sizes at run time. Anything else that reads a group's channels
/// blocks that group. <see cref="Apply"/> walks the same graph again cutting the kept channels out and
/// checks that every layer then reads exactly the channels it read before, minus the removed ones.
/// </summary>
public sealed class ChannelFlow
{
    private static readonly HashSet<string> ZeroPreserving = new() { "Relu", "LeakyRelu", "Tanh", "Gelu", "Identity", "Dropout", "HardSwish", "Elu",
        "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool" };

    private static readonly HashSet<string> Activation = new() { "Relu", "Clip", "LeakyRelu", "HardSwish", "Gelu" };

    private readonly Model _model;
    private readonly bool _applying;
    private readonly Dictionary<Value, ChannelLayout> _layouts = new();
    private readonly Dictionary<Value, Shuffled> _shuffled = new();
    private readonly List<ChannelGroup> _all = new();
    private readonly List<int> _parent = new();
    private readonly Dictionary<Node, int> _producerGroup = new();
    private readonly Dictionary<Node, int> _shuffleGroups = new();
    private IReadOnlyDictionary<Value, Dim[]> _shapeValues;

    // Set when applying: the analysis of the same model and the kept channels of each root group.
    private readonly ChannelFlow? _old;
    private readonly IReadOnlyDictionary<int, long[]>? _keep;

    private sealed record Shuffled(ChannelLayout Layout, int Groups, bool Transposed);

    private ChannelFlow(Model model, ChannelFlow? old, IReadOnlyDictionary<int, long[]>? keep)
    {
        _model = model;
        _old = old;
        _keep = keep;
        _applying = old is not null;
        _shapeValues = ShapeInference.Run(model).ShapeValues;
    }

    /// <summary>The channel groups that have producers (root groups after residual ties).</summary>
    public IReadOnlyList<ChannelGroup> Groups { get; private set; } = Array.Empty<ChannelGroup>();

    /// <summary>Layout of every value that carries channels.</summary>
    public IReadOnlyDictionary<Value, ChannelLayout> Layouts => _layouts;

    public List<ChannelConsumer> Consumers { get; } = new();
    public List<ChannelParameter> Parameters { get; } = new();

    /// <summary>The root group of a group id.</summary>
    public int Root(int id)
    {
        while (_parent[id] != id) id = _parent[id] = _parent[_parent[id]];
        return id;
    }

    public ChannelGroup GroupOf(ChannelRef r) => _all[Root(r.Group)];

    /// <summary>Finds the channel groups of a graph (runs shape inference on it).</summary>
    public static ChannelFlow Analyze(Model model)
    {
        var flow = new ChannelFlow(model, null, null);
        flow.Walk();
        flow.Finish();
        return flow;
    }

    /// <summary>
    /// Cuts every group's channels down to <paramref name="keep"/> (sorted channel indices by root group
    /// id; groups not named keep all), in place. <paramref name="analysis"/> must be this model's
    /// analysis. Throws <see cref="ChannelConflictException"/> when a layer would read other channels than
    /// before; the model is then half-edited and must be discarded.
    /// </summary>
    public static void Apply(Model model, ChannelFlow analysis, IReadOnlyDictionary<int, long[]> keep)
    {
        var flow = new ChannelFlow(model, analysis, keep);
        flow.Walk();
        foreach (var v in analysis._layouts.Keys.Concat(analysis._shuffled.Keys)) v.Shape = null;
        ShapeInference.Run(model);
    }

    private void Walk()
    {
        foreach (var node in _model.Graph.TopologicalOrder()) Visit(node);
        foreach (var v in _model.Graph.Outputs)
            if (_layouts.TryGetValue(v, out var l)) Block(l, $"'{v.Name}' is a graph output");
    }

    private void Finish()
    {
        for (var i = 0; i < _all.Count; i++)
        {
            var root = _all[Root(i)];
            if (root == _all[i]) continue;
            root.Producers.AddRange(_all[i].Producers);
            root.Blocker ??= _all[i].Blocker;
            root.EqualBlocks.UnionWith(_all[i].EqualBlocks);
            root.PatternBlocks.UnionWith(_all[i].PatternBlocks);
            root.Divisors.UnionWith(_all[i].Divisors);
        }
        var roots = _all.Where((g, i) => Root(i) == i).ToList();
        foreach (var (value, layout) in _layouts)
            if (value.Producer is { } p && Activation.Contains(p.OpType))
                foreach (var id in layout.Refs.Select(r => Root(r.Group)).Distinct())
                    _all[id].Activations.Add(value);
        foreach (var g in roots)
        {
            if (g.Blocker is not null) continue;
            if (g.Channels < 2) g.Blocker = "it has a single channel";
            else if (!Consumers.Any(c => _layouts[c.Input].Refs.Any(r => Root(r.Group) == g.Id))) g.Blocker = "its channels reach no consuming layer";
            else if (g.PatternBlocks.Concat(g.EqualBlocks).Distinct().Count() > 1) g.Blocker = "grouped convolutions with different group counts read or make its channels";
        }
        var repeated = roots.GroupBy(g => g.Name).Where(n => n.Count() > 1).Select(n => n.Key).ToHashSet();
        foreach (var g in roots) g.Key = repeated.Contains(g.Name) ? $"{g.Name}#{g.Id}" : g.Name;
        Groups = roots;
    }

    private ChannelLayout? L(Value? v) => v is not null && _layouts.TryGetValue(v, out var l) ? l : null;

    private void Set(Value? v, ChannelLayout layout)
    {
        if (v is null) return;
        if (_applying && layout.Length == 0 && _old!.L(v) is { Length: > 0 } before)
            throw Conflict(before, $"'{v.Name}' would be left with no channels");
        _layouts[v] = layout;
    }

    private void Block(ChannelLayout layout, string reason)
    {
        if (_applying) return;
        foreach (var id in layout.Refs.Select(r => r.Group).Distinct())
            _all[id].Blocker ??= reason;
    }

    private void BlockInputs(Node node, string reason)
    {
        foreach (var v in node.Inputs)
        {
            if (L(v) is { } l) Block(l, reason);
            if (v is not null && _shuffled.TryGetValue(v, out var s)) Block(s.Layout, reason);
        }
    }

    private string Feeds(Node node) => $"it feeds {node.OpType} '{node.DisplayName}', which Shrink cannot follow channel by channel";

    private void Visit(Node node)
    {
        // Values read inside If/Loop bodies keep their width: their groups are left alone.
        foreach (var sub in node.Subgraphs)
            foreach (var v in sub.Nodes.SelectMany(n => n.Inputs).OfType<Value>().Where(v => v.Producer?.Graph != sub && !sub.Inputs.Contains(v)))
                if (L(v) is { } read) Block(read, $"it is read inside a subgraph of '{node.DisplayName}'");
        var flowing = node.Inputs.Any(v => v is not null && (_layouts.ContainsKey(v) || _shuffled.ContainsKey(v)));
        if (!node.IsDefaultDomain)
        {
            if (flowing) BlockInputs(node, Feeds(node));
            return;
        }
        var x = node.Inputs.ElementAtOrDefault(0);
        var lx = L(x);
        if (ProducerSpec(node) is { } spec)
        {
            for (var i = 1; i < node.Inputs.Count; i++)
                if (L(node.Inputs[i]) is { } lw) Block(lw, $"it feeds the weights of '{node.DisplayName}'");
            if (lx is not null) Consume(node, spec, x!, lx);
            Produce(node, spec);
            return;
        }
        if (!flowing || node.OpType == "Shape") return;
        if (_applying && node.Outputs.All(o => o is null || !_old!._layouts.ContainsKey(o) && !_old._shuffled.ContainsKey(o)))
        {
            // Not followed when analysed (its groups are left alone): it must still read exactly what it read before.
            foreach (var v in node.Inputs)
                if (L(v) is { } now && (now.Length != _old!.L(v)?.Length || Map(v!, now).Where((p, q) => p != q).Any()))
                    throw Conflict(now, $"'{node.DisplayName}' ({node.OpType}) was not followed and would read other channels");
                else if (v is not null && _shuffled.ContainsKey(v) && _shuffled[v].Layout.Length != _old!._shuffled.GetValueOrDefault(v)?.Layout.Length)
                    throw Conflict(_shuffled[v].Layout, $"'{node.DisplayName}' ({node.OpType}) was not followed and would read other channels");
            return;
        }
        var onlyFirst = lx is not null && node.Inputs.Skip(1).All(v => v is null || !_layouts.ContainsKey(v) && !_shuffled.ContainsKey(v));
        var output = node.Outputs.ElementAtOrDefault(0);
        switch (node.OpType)
        {
            case "Conv" when onlyFirst && IsDepthwise(node, _applying ? _old!.L(x)! : lx!):
                if (!lx!.Spatial) goto default;
                PerChannel(node, 1, x!);
                if (node.Inputs.ElementAtOrDefault(2) is { Name.Length: > 0 }) PerChannel(node, 2, x!);
                if (_applying) node.SetAttribute(Ir.Attribute.Int("group", lx.Length));
                Set(output, lx);
                return;
            case "BatchNormalization" when onlyFirst && lx!.Spatial && node.Outputs.Skip(1).All(o => o is not { Uses.Count: > 0 }):
                for (var i = 1; i <= 4; i++) PerChannel(node, i, x!);
                Set(output, lx);
                return;
            case var op when onlyFirst && (ZeroPreserving.Contains(op) || op == "Clip" && ClipKeepsZero(node)):
                if (!lx!.Spatial && op is "MaxPool" or "AveragePool" or "GlobalAveragePool" or "GlobalMaxPool") goto default;
                Set(output, lx);
                return;
            case "Add" when onlyFirst && !lx!.Spatial && node.Inputs.ElementAtOrDefault(1)?.Const is { Dims.Length: 1 }:
                // A bias added after MatMul (PyTorch's Linear export): one entry per feature.
                PerChannel(node, 1, x!);
                Set(output, lx);
                return;
            case "Add" when x?.Const is { Dims.Length: 1 } && node.Inputs.Count == 2 && L(node.Inputs[1]) is { Spatial: false } lb:
                PerChannel(node, 0, node.Inputs[1]!);
                Set(output, lb);
                return;
            case "ReduceMean" or "ReduceMax" or "ReduceSum" when onlyFirst && lx!.Spatial && ReduceKeepsChannels(node, x!) is { } spatial:
                Set(output, lx with { Spatial = spatial });
                return;
            case "Add" when L(node.Inputs.ElementAtOrDefault(1)) is { } ly && lx is not null && node.Inputs.Count == 2:
                Tie(node, lx, ly);
                Set(output, lx);
                return;
            case "Concat" when node.Inputs.All(v => L(v) is not null) && node.Inputs.Select(v => L(v)!.Spatial).Distinct().Count() == 1
                               && IsChannelAxis(node.GetInt("axis", 0), x!, lx!):
                Set(output, new ChannelLayout(node.Inputs.SelectMany(v => L(v)!.Refs).ToArray(), lx!.Spatial));
                return;
            case "Split" when onlyFirst && IsChannelAxis(node.GetInt("axis", 0), x!, lx!) && Split(node, lx!):
                return;
            case "Slice" when onlyFirst && Slice(node, x!, lx!):
                return;
            case "Flatten" when onlyFirst && node.GetInt("axis", 1) == 1 && Flatten(node, x!, lx!):
                return;
            case "Reshape" when onlyFirst && Reshape(node, x!, lx!):
                return;
            case "Reshape" when x is not null && _shuffled.TryGetValue(x, out var shuffled) && Unshuffle(node, shuffled):
                return;
            case "Transpose" when x is not null && _shuffled.TryGetValue(x, out var shuffled) && node.GetInts("perm") is [0, 2, 1, 3, 4]:
                _shuffled[output!] = shuffled with { Transposed = !shuffled.Transposed };
                return;
            default:
                if (_applying && node.Outputs.Any(o => o is not null && (_old!._layouts.ContainsKey(o) || _old._shuffled.ContainsKey(o))))
                    throw new ChannelConflictException(node.Inputs.Where(v => _old!.L(v) is not null).SelectMany(v => _old!.L(v)!.Refs)
                        .Select(r => _old!.Root(r.Group)).ToHashSet(), $"'{node.DisplayName}' can no longer be followed");
                BlockInputs(node, Feeds(node));
                return;
        }
    }

    // ---- producers and consumers ----

    private sealed record Spec(Value Weight, int OutAxis, int InAxis, int ConvGroups, bool Spatial, Value? Bias);

    private static Spec? ProducerSpec(Node n)
    {
        var w = n.Inputs.ElementAtOrDefault(1);
        if (w?.Const is not { DataType: DataType.Float } t) return null;
        var bias = n.Inputs.ElementAtOrDefault(2) is { Name.Length: > 0 } b ? b : null;
        var g = (int)n.GetInt("group", 1);
        return n.OpType switch
        {
            "Conv" when g == 1 || t.Dims[1] > 1 || t.Dims[0] != g => new Spec(w, 0, 1, g, true, bias),
            "Gemm" when n.GetInt("transA", 0) == 0 && t.Dims.Length == 2 =>
                new Spec(w, n.GetInt("transB", 0) != 0 ? 0 : 1, n.GetInt("transB", 0) != 0 ? 1 : 0, 1, false, bias),
            "MatMul" when t.Dims.Length == 2 => new Spec(w, 1, 0, 1, false, null),
            _ => null,
        };
    }

    private static bool IsDepthwise(Node n, ChannelLayout input) =>
        n.Inputs.ElementAtOrDefault(1)?.Const is { DataType: DataType.Float } w && n.GetInt("group", 1) is var g && g > 1
        && w.Dims[0] == g && w.Dims[1] == 1 && g == input.Length;

    private void Produce(Node node, Spec spec)
    {
        var output = node.Outputs.ElementAtOrDefault(0);
        var channels = spec.Weight.Const!.Dims[spec.OutAxis];
        int id;
        long[] kept;
        if (_applying)
        {
            id = _old!._producerGroup[node];
            kept = _keep!.TryGetValue(_old.Root(id), out var k) ? k : Enumerable.Range(0, (int)channels).Select(c => (long)c).ToArray();
            if (kept.Length != channels)
            {
                SliceTensor(spec.Weight, spec.OutAxis, kept);
                if (spec.Bias is { Const: not null }) SliceTensor(spec.Bias, 0, kept);
            }
        }
        else
        {
            id = _all.Count;
            var g = new ChannelGroup(id) { Channels = channels };
            _all.Add(g);
            _parent.Add(id);
            _producerGroup[node] = id;
            g.Producers.Add(new ChannelProducer(node, spec.Weight, spec.OutAxis, spec.Bias));
            if (spec.ConvGroups > 1) g.EqualBlocks.Add(spec.ConvGroups);
            if (spec.Weight.Uses.Count > 1 || spec.Bias is { Uses.Count: > 1 })
                g.Blocker = $"the weights of '{node.DisplayName}' are shared with other nodes";
            else if (spec.Bias is { } b && (b.Const is not { Dims: [var n] } || n != channels))
                g.Blocker = $"the bias of '{node.DisplayName}' is not a constant with one entry per channel";
            kept = Enumerable.Range(0, (int)channels).Select(c => (long)c).ToArray();
        }
        Set(output, new ChannelLayout(kept.Select(c => new ChannelRef(id, (int)c, 0)).ToArray(), spec.Spatial));
    }

    private void Consume(Node node, Spec spec, Value x, ChannelLayout lx)
    {
        var dims = spec.Weight.Const!.Dims;
        if (!_applying)
        {
            var expected = dims[spec.InAxis] * spec.ConvGroups;
            if (lx.Spatial != spec.Spatial || lx.Length != expected)
            {
                Block(lx, lx.Spatial != spec.Spatial ? $"it mixes convolution channels and dense features at '{node.DisplayName}'"
                    : $"'{node.DisplayName}' reads {expected} channels where {lx.Length} were followed");
                return;
            }
            if (spec.Weight.Uses.Count > 1) { Block(lx, $"the weights of '{node.DisplayName}' are shared"); return; }
            if (spec.ConvGroups > 1)
            {
                // A grouped convolution reads the same positions in every conv group: only a whole group in order can be cut that way.
                var id = lx.Refs[0].Group;
                if (lx.Refs.Where((r, p) => r.Group != id || r.Index != p || r.Sub != 0).Any())
                {
                    Block(lx, $"grouped convolution '{node.DisplayName}' reads channels of several groups");
                    return;
                }
                _all[id].PatternBlocks.Add(spec.ConvGroups);
            }
            Consumers.Add(new ChannelConsumer(node, spec.Weight, spec.InAxis, x, spec.ConvGroups));
            return;
        }
        if (!_old!.Consumers.Any(c => c.Layer == node)) return;
        var map = Map(x, lx);
        if (map.Length == _old.L(x)!.Length) return;
        if (spec.ConvGroups == 1)
        {
            SliceTensor(spec.Weight, spec.InAxis, map);
            return;
        }
        var g = spec.ConvGroups;
        long block = _old.L(x)!.Length / g, newBlock = map.Length / g;
        var local = new long[newBlock];
        for (var q = 0; q < map.Length; q++)
        {
            var p = map[q];
            if (map.Length % g != 0 || p / block != q / newBlock || (q >= newBlock && local[q % newBlock] != p % block))
                throw Conflict(lx, $"'{node.DisplayName}' would read different positions in its conv groups");
            local[q % newBlock] = p % block;
        }
        SliceTensor(spec.Weight, spec.InAxis, local);
    }

    /// <summary>A per-channel input (BatchNorm, depthwise Conv) indexed like <paramref name="x"/>'s channels.</summary>
    private void PerChannel(Node node, int input, Value x)
    {
        var v = node.Inputs.ElementAtOrDefault(input);
        var lx = L(x)!;
        if (_applying)
        {
            if (v?.Const is null) return;
            var map = Map(x, lx);
            if (map.Length != v.Const.Dims[0]) SliceTensor(v, 0, map);
            return;
        }
        if (v?.Const is not { } t || t.Dims.Length < 1 || t.Dims[0] != lx.Length || v.Uses.Count > 1)
            Block(lx, $"input {input} of '{node.DisplayName}' is not a per-channel constant of its own");
        else
            Parameters.Add(new ChannelParameter(node, v, 0, x));
    }

    /// <summary>
    /// For a value's new layout, the position of each entry in its old layout; throws when the value
    /// would not carry exactly its old channels minus the removed ones.
    /// </summary>
    private long[] Map(Value x, ChannelLayout now)
    {
        var before = _old!.L(x)!;
        // A channel may appear several times (Concat(x, MaxPool(x)), SPPF): its copies pair up in order.
        var positions = new Dictionary<(int, int, int), Queue<int>>();
        var keptBefore = 0;
        for (var p = 0; p < before.Length; p++)
        {
            var r = before.Refs[p];
            var key = (_old.Root(r.Group), r.Index, r.Sub);
            if (!positions.TryGetValue(key, out var queue)) positions[key] = queue = new Queue<int>();
            queue.Enqueue(p);
            if (Kept(r)) keptBefore++;
        }
        var map = new long[now.Length];
        for (var q = 0; q < now.Length; q++)
        {
            var r = now.Refs[q];
            if (!positions.TryGetValue((_old.Root(r.Group), r.Index, r.Sub), out var queue) || !queue.TryDequeue(out var p))
                throw Conflict(new ChannelLayout(now.Refs.Concat(before.Refs).ToArray(), now.Spatial), $"'{x.Name}' would carry channels it did not carry before");
            map[q] = p;
        }
        if (now.Length != keptBefore) throw Conflict(new ChannelLayout(now.Refs.Concat(before.Refs).ToArray(), now.Spatial), $"'{x.Name}' would lose channels that are kept");
        return map;
    }

    private bool Kept(ChannelRef r) =>
        !_keep!.TryGetValue(_old!.Root(r.Group), out var k) || Array.BinarySearch(k, (long)r.Index) >= 0;

    private ChannelConflictException Conflict(ChannelLayout layout, string reason) =>
        new(layout.Refs.Select(r => _old!.Root(r.Group)).ToHashSet(), reason);

    // ---- ops that route channels ----

    private void Tie(Node node, ChannelLayout a, ChannelLayout b)
    {
        if (_applying)
        {
            if (a.Length != b.Length || a.Refs.Zip(b.Refs).Any(p => _old!.Root(p.First.Group) != _old.Root(p.Second.Group) || p.First.Index != p.Second.Index || p.First.Sub != p.Second.Sub))
                throw Conflict(a, $"the inputs of '{node.DisplayName}' would no longer line up");
            return;
        }
        if (a.Length != b.Length || a.Spatial != b.Spatial)
        {
            var reason = $"'{node.DisplayName}' adds tensors of different channel layouts";
            Block(a, reason);
            Block(b, reason);
            return;
        }
        foreach (var (p, q) in a.Refs.Zip(b.Refs))
        {
            if (p.Index != q.Index || p.Sub != q.Sub || _all[Root(p.Group)].Channels != _all[Root(q.Group)].Channels)
            {
                var reason = $"'{node.DisplayName}' adds different channels together";
                Block(a, reason);
                Block(b, reason);
                return;
            }
        }
        foreach (var (p, q) in a.Refs.Zip(b.Refs))
        {
            var (ra, rb) = (Root(p.Group), Root(q.Group));
            if (ra != rb) _parent[ra] = rb;
        }
    }

    /// <summary>Is <paramref name="axis"/> the channel axis of <paramref name="x"/>?</summary>
    private static bool IsChannelAxis(long axis, Value x, ChannelLayout l)
    {
        var rank = x.Shape?.Rank;
        if (axis < 0 && rank is { } r) axis += r;
        return l.Spatial ? axis == 1 : axis == -1 || rank is { } k && axis == k - 1;
    }

    /// <summary>The values of a small integer input: constant, or computed from Shape ops (unknown entries, such as the batch size, are null).</summary>
    private long?[]? Values(Node node, int input) =>
        node.Inputs.ElementAtOrDefault(input) is { Name.Length: > 0 } v
        && (_shapeValues.TryGetValue(v, out var d) ? d : Graph.ConstantOf(v)?.ToInt64s().Select(Dim.Of).ToArray()) is { } dims
            ? dims.Select(x => x.Value).ToArray() : null;

    private long[]? Ints(Node node, int input) =>
        Values(node, input) is { } values && values.All(x => x.HasValue) ? values.Select(x => x!.Value).ToArray() : null;

    private bool Split(Node node, ChannelLayout lx)
    {
        var outputs = node.Outputs.Count;
        var input = node.Inputs.ElementAtOrDefault(1) is { Name.Length: > 0 };
        long[] sizes;
        if (_applying)
        {
            // Each output keeps its kept channels; the sizes are written out explicitly.
            sizes = node.Outputs.Select(o => (long)_old!.L(o)!.Refs.Count(Kept)).ToArray();
            var split = Tensor.FromInt64s(node.Name + "_split", new long[] { outputs }, sizes);
            if (_model.DefaultOpset >= 13) SetConstInput(node, 1, split);
            else node.SetAttribute(Ir.Attribute.Ints("split", sizes));
            node.Attributes.RemoveAll(a => a.Name == "num_outputs");
        }
        else
        {
            var given = input ? (Graph.ConstantOf(node.Inputs[1]) is { } c ? c.ToInt64s() : null) : node.GetInts("split");
            if (given is null && input) return false;
            if (given is null)
            {
                if (lx.Length % outputs != 0) return false;
                given = Enumerable.Repeat((long)(lx.Length / outputs), outputs).ToArray();
            }
            if (given.Length != outputs || given.Sum() != lx.Length) return false;
            sizes = given;
        }
        var offset = 0;
        for (var i = 0; i < outputs; i++)
        {
            Set(node.Outputs[i], new ChannelLayout(lx.Refs.Skip(offset).Take((int)sizes[i]).ToArray(), lx.Spatial));
            offset += (int)sizes[i];
        }
        return true;
    }

    private bool Slice(Node node, Value x, ChannelLayout lx)
    {
        if (node.Inputs.Count < 3) return false; // Slice-1 (attributes) is not followed
        var starts = Ints(node, 1);
        var ends = Ints(node, 2);
        if (starts is null || ends is null || starts.Length != ends.Length) return false;
        var axes = node.Inputs.Count > 3 && node.Inputs[3] is { Name.Length: > 0 } ? Ints(node, 3) : Enumerable.Range(0, starts.Length).Select(a => (long)a).ToArray();
        var steps = node.Inputs.Count > 4 && node.Inputs[4] is { Name.Length: > 0 } ? Ints(node, 4) : null;
        if (axes is null || axes.Length != starts.Length) return false;
        var i = Array.FindIndex(axes, a => IsChannelAxis(a, x, lx));
        if (i < 0)
        {
            Set(node.Outputs[0], lx);
            return true;
        }
        if (steps is not null && steps[i] != 1) return false;
        var dynamic = Graph.ConstantOf(node.Inputs[1]) is null || Graph.ConstantOf(node.Inputs[2]) is null;
        if (_applying && dynamic)
        {
            // Bounds computed from Shape at run time: evaluate them on the model cut so far.
            RefreshShapeValues();
            starts = Ints(node, 1);
            ends = Ints(node, 2);
            if (starts is null || ends is null) throw Conflict(lx, $"the bounds of '{node.DisplayName}' can no longer be computed");
        }
        else if (_applying)
        {
            var before = _old!.L(x)!;
            var (s0, e0) = Bounds(starts[i], ends[i], before.Length);
            var newStarts = (long[])starts.Clone();
            var newEnds = (long[])ends.Clone();
            newStarts[i] = before.Refs.Take(s0).Count(Kept);
            newEnds[i] = before.Refs.Take(e0).Count(Kept);
            SetConstInput(node, 1, IndexTensor(node.Name + "_starts", newStarts, Graph.ConstantOf(node.Inputs[1])!.DataType));
            SetConstInput(node, 2, IndexTensor(node.Name + "_ends", newEnds, Graph.ConstantOf(node.Inputs[2])!.DataType));
            starts = newStarts;
            ends = newEnds;
        }
        var (s, e) = Bounds(starts[i], ends[i], lx.Length);
        Set(node.Outputs[0], new ChannelLayout(lx.Refs.Skip(s).Take(Math.Max(0, e - s)).ToArray(), lx.Spatial));
        return true;
    }

    /// <summary>
    /// A reduction over spatial axes keeps channel c at c: null when it reduces the batch or channel axis
    /// (or the axes are unknown); true when the channels stay on axis 1 (keepdims); false when all spatial
    /// axes are dropped and the channels end up on the last axis of an [N, C] result.
    /// </summary>
    private bool? ReduceKeepsChannels(Node node, Value x)
    {
        if (x.Shape?.Rank is not { } rank) return null;
        var axes = node.GetInts("axes") ?? (node.Inputs.Count > 1 ? Ints(node, 1) : null);
        if (axes is null || axes.Length == 0) return null;
        var normalized = axes.Select(a => a < 0 ? a + rank : a).Order().ToArray();
        if (normalized.Contains(0) || normalized.Contains(1)) return null;
        if (node.GetInt("keepdims", 1) != 0) return true;
        return normalized.SequenceEqual(Enumerable.Range(2, rank - 2).Select(a => (long)a)) ? false : null;
    }

    /// <summary>Shape values of the model as cut so far (upstream of the node being visited).</summary>
    private void RefreshShapeValues()
    {
        foreach (var v in _layouts.Keys.Concat(_shuffled.Keys)) v.Shape = null;
        _shapeValues = ShapeInference.Run(_model).ShapeValues;
    }

    /// <summary>A 1-D index tensor of the given type (Slice takes int32 or int64 bounds, all of one type).</summary>
    private static Tensor IndexTensor(string name, long[] values, DataType type) => type == DataType.Int32
        ? new Tensor(name, DataType.Int32, new long[] { values.Length }, values.SelectMany(v => BitConverter.GetBytes(checked((int)Math.Clamp(v, int.MinValue, int.MaxValue)))).ToArray())
        : Tensor.FromInt64s(name, new long[] { values.Length }, values);

    private static (int Start, int End) Bounds(long start, long end, int length)
    {
        long Clamp(long v) => Math.Clamp(v < 0 ? v + length : v, 0, length);
        return ((int)Clamp(start), (int)Clamp(end));
    }

    /// <summary>Flatten of [N, C, spatial…] with known spatial size: channel c becomes features c·S … c·S + S − 1.</summary>
    private bool Flatten(Node node, Value x, ChannelLayout lx)
    {
        if (!lx.Spatial) return false;
        var old = _applying ? _old!.L(x)! : lx;
        var size = _applying ? _old!.L(node.Outputs[0]!)!.Length / old.Length : SpatialSize(x);
        if (size is not { } s || s < 1) return false;
        Set(node.Outputs[0], new ChannelLayout(lx.Refs.SelectMany(r => Enumerable.Range(0, s).Select(k => r with { Sub = k })).ToArray(), false));
        return true;
    }

    private static int? SpatialSize(Value x)
    {
        if (x.Shape is not { Rank: >= 2 } shape) return null;
        long size = 1;
        for (var i = 2; i < shape.Rank; i++)
            if (shape.Dims[i].Value is { } d) size *= d;
            else return null;
        return (int)size;
    }

    /// <summary>Reshape that flattens [N, C, H, W] to [N, C·H·W], or the first step of a channel shuffle ([N, g, C/g, H, W]).</summary>
    private bool Reshape(Node node, Value x, ChannelLayout lx)
    {
        if (!lx.Spatial || x.Shape is not { Rank: 4 }) return false;
        if (_applying)
        {
            if (_old!._shuffled.TryGetValue(node.Outputs[0]!, out var s))
            {
                if (lx.Length % s.Groups != 0) throw Conflict(lx, $"the channel shuffle at '{node.DisplayName}' needs a multiple of {s.Groups} channels");
                RewriteTarget(node, 2, lx.Length / s.Groups, lx);
                _shuffled[node.Outputs[0]!] = new Shuffled(lx, s.Groups, false);
                return true;
            }
            var size = _old.L(node.Outputs[0]!)!.Length / _old.L(x)!.Length;
            RewriteTarget(node, 1, lx.Length * size, lx);
            Set(node.Outputs[0], new ChannelLayout(lx.Refs.SelectMany(r => Enumerable.Range(0, size).Select(k => r with { Sub = k })).ToArray(), false));
            return true;
        }
        if (Values(node, 1) is not { } target) return false;
        if (target.Length == 2 && SpatialSize(x) is { } spatial && (target[1] == -1 || target[1] == lx.Length * (long)spatial))
            return Flatten(node, x, lx);
        if (target.Length == 5 && target[1] is long groups && groups > 1 && lx.Length % groups == 0 && (target[2] == -1 || target[2] == lx.Length / groups))
        {
            var g = (int)groups;
            _shuffled[node.Outputs[0]!] = new Shuffled(lx, g, false);
            _shuffleGroups[node] = g;
            foreach (var id in lx.Refs.Select(r => r.Group).Distinct()) _all[id].Divisors.Add(g);
            return true;
        }
        return false;
    }

    /// <summary>The last step of a channel shuffle: [N, C/g, g, H, W] back to [N, C, H, W]; channel k·g + i was channel i·C/g + k.</summary>
    private bool Unshuffle(Node node, Shuffled s)
    {
        if (!_applying && (Values(node, 1) is not { Length: 4 } target || target[1] != -1 && target[1] != s.Layout.Length))
        {
            Block(s.Layout, Feeds(node));
            return true;
        }
        var refs = s.Layout.Refs;
        var inner = refs.Length / s.Groups;
        var result = new ChannelRef[refs.Length];
        for (var i = 0; i < s.Groups; i++)
            for (var k = 0; k < inner; k++)
                result[s.Transposed ? k * s.Groups + i : i * inner + k] = refs[i * inner + k];
        if (_applying) RewriteTarget(node, 1, refs.Length, s.Layout);
        Set(node.Outputs[0], new ChannelLayout(result, true));
        return true;
    }

    private void RewriteTarget(Node node, int index, long value, ChannelLayout layout)
    {
        if (Graph.ConstantOf(node.Inputs[1]) is not { } t)
        {
            // Computed at run time: from Shape it follows the cut by itself, but a constant element inside the computation does not.
            RefreshShapeValues();
            if (Values(node, 1)?.ElementAtOrDefault(index) is not (-1 or null) and var computed && computed != value)
                throw Conflict(layout, $"the target of '{node.DisplayName}' is computed with a fixed channel count ({computed}) that the cut would break");
            return;
        }
        var values = t.ToInt64s();
        if (values[index] == -1 || values[index] == value) return;
        values[index] = value;
        SetConstInput(node, 1, Tensor.FromInt64s(t.Name, t.Dims, values));
    }

    /// <summary>Gives a node's input a new constant: in place when only this node reads it, else as a new initializer.</summary>
    private void SetConstInput(Node node, int index, Tensor tensor)
    {
        var v = node.Inputs.ElementAtOrDefault(index);
        if (v is { IsInitializer: true, Uses.Count: 1 } && !_model.Graph.Inputs.Contains(v))
        {
            v.Const = tensor.Clone(v.Name);
            v.Shape = Shape.Of(tensor.Dims);
            return;
        }
        var value = _model.Graph.AddInitializer(tensor.Clone(node.DisplayName + "_pruned_" + index));
        while (node.Inputs.Count <= index) node.AddInput(null);
        node.SetInput(index, value);
    }

    private static bool ClipKeepsZero(Node n)
    {
        var min = n.Inputs.ElementAtOrDefault(1) is { Name.Length: > 0 } a ? Graph.ConstantOf(a)?.ToDoubles()[0] : n.GetAttribute("min") is null ? null : n.GetFloat("min", 0);
        var max = n.Inputs.ElementAtOrDefault(2) is { Name.Length: > 0 } b ? Graph.ConstantOf(b)?.ToDoubles()[0] : n.GetAttribute("max") is null ? null : n.GetFloat("max", 0);
        return (min ?? double.NegativeInfinity) <= 0 && (max ?? double.PositiveInfinity) >= 0;
    }

    /// <summary>Keeps the given indices (in the given order) along an axis of an initializer.</summary>
    internal static void SliceTensor(Value v, int axis, long[] keep)
    {
        var t = v.Const!;
        var dims = t.Dims;
        long inner = 1;
        for (var i = axis + 1; i < dims.Length; i++) inner *= dims[i];
        var outer = t.ElementCount / (dims[axis] * inner);
        var size = t.DataType.ByteCount(1);
        var source = t.RawData;
        var data = new byte[outer * keep.Length * inner * size];
        var run = (int)(inner * size);
        for (long o = 0; o < outer; o++)
            for (var k = 0; k < keep.Length; k++)
                Buffer.BlockCopy(source, (int)((o * dims[axis] + keep[k]) * inner * size), data, (int)((o * keep.Length + k) * inner * size), run);
        var newDims = (long[])dims.Clone();
        newDims[axis] = keep.Length;
        v.Const = new Tensor(t.Name, t.DataType, newDims, data);
        v.Shape = Shape.Of(newDims);
    }
}

/// <summary>Shorthand for the groups of <see cref="ChannelFlow.Analyze"/>.</summary>
public static class ChannelGroups
{
    public static IReadOnlyList<ChannelGroup> Find(Model model) => ChannelFlow.Analyze(model).Groups;
}
