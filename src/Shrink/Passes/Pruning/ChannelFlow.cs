using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Pruning;

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
public sealed partial class ChannelFlow
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
            case var op when onlyFirst && (ZeroPreserving.Contains(op) || op == "Clip" && ClipBounds.Of(node) is { Min: <= 0, Max: >= 0 }):
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
}
