using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Pruning;

/// <summary>
/// The dependency analysis of structured pruning: which channels must be cut together. It gives each
/// producer's channels (a layer with weights, from the op registry) a group and follows per-position
/// layouts through the ops the registry says channels flow through (<see cref="ChannelFlowKind"/>):
/// BatchNorm, activations with f(0) = 0, pooling, Dropout, depthwise Conv, residual Add (which ties groups
/// together), Concat, Split and Slice on the channel axis (offsets), channel shuffle (Reshape → Transpose →
/// Reshape), Flatten or a flattening Reshape before Gemm/MatMul (a channel becomes a block of features), and
/// grouped Conv. Shape reads are allowed: PyTorch exports compute Reshape and Slice targets from them, and
/// those follow the pruned sizes at run time. Anything else that reads a group's channels blocks that group.
/// The result is data — <see cref="Groups"/>, <see cref="Layouts"/>, <see cref="Consumers"/>,
/// <see cref="Parameters"/> and the per-node <see cref="Steps"/> — that the importance criteria score and
/// <see cref="ChannelCut"/> replays to cut; the analysis itself edits nothing (it runs shape inference).
/// </summary>
public sealed partial class ChannelFlow
{
    private readonly Model _model;
    private readonly Dictionary<Value, ChannelLayout> _layouts = new();
    private readonly Dictionary<Value, ChannelShuffle> _shuffled = new();
    private readonly List<ChannelGroup> _all = new();
    private readonly List<int> _parent = new();
    private readonly Dictionary<Node, int> _producerGroup = new();
    private readonly List<ChannelStep> _steps = new();
    private readonly IReadOnlyDictionary<Value, Dim[]> _shapeValues;

    private ChannelFlow(Model model)
    {
        _model = model;
        _shapeValues = ShapeInference.Run(model).ShapeValues;
    }

    /// <summary>The model analysed; <see cref="ChannelCut.Apply"/> cuts this model.</summary>
    public Model Model => _model;

    /// <summary>The channel groups that have producers (root groups after residual ties).</summary>
    public IReadOnlyList<ChannelGroup> Groups { get; private set; } = Array.Empty<ChannelGroup>();

    /// <summary>Layout of every value that carries channels.</summary>
    public IReadOnlyDictionary<Value, ChannelLayout> Layouts => _layouts;

    /// <summary>Values in the middle of a channel shuffle.</summary>
    public IReadOnlyDictionary<Value, ChannelShuffle> Shuffles => _shuffled;

    public List<ChannelConsumer> Consumers { get; } = new();
    public List<ChannelParameter> Parameters { get; } = new();

    /// <summary>What was decided for every node that makes or reads followed channels, in topological order.</summary>
    public IReadOnlyList<ChannelStep> Steps => _steps;

    /// <summary>The root group of a group id.</summary>
    public int Root(int id)
    {
        while (_parent[id] != id) id = _parent[id] = _parent[_parent[id]];
        return id;
    }

    public ChannelGroup GroupOf(ChannelRef r) => _all[Root(r.Group)];

    /// <summary>The group id a producing layer's channels got (before residual ties; see <see cref="Root"/>).</summary>
    public int ProducerGroup(Node layer) => _producerGroup[layer];

    /// <summary>Finds the channel groups of a graph (runs shape inference on it).</summary>
    public static ChannelFlow Analyze(Model model)
    {
        var flow = new ChannelFlow(model);
        foreach (var node in model.Graph.TopologicalOrder()) flow.Visit(node);
        foreach (var v in model.Graph.Outputs)
            if (flow._layouts.TryGetValue(v, out var l)) flow.Block(l, $"'{v.Name}' is a graph output");
        flow.Finish();
        return flow;
    }

    /// <summary>
    /// The layer as channels see it, when pruning can follow it: a float constant weight at input 1 read by
    /// activations at input 0 (not transposed), dense weights 2-D. A grouped layer whose filters each read one
    /// channel (depthwise) is a per-channel op instead, and grouped layers are followed only with their output
    /// channels on the weight's first axis (so not grouped ConvTranspose).
    /// </summary>
    internal static LayerSpec? Spec(Node n)
    {
        if (OpRoles.Layer(n) is not { Weight: 1, Data: 0, DataTransposed: false } layout) return null;
        if (n.Inputs[1]?.Const is not { DataType: DataType.Float } t) return null;
        var g = layout.Groups;
        if (layout.Spatial ? g > 1 && (layout.OutputAxis != 0 || IsDepthwise(t.Dims, layout)) : t.Dims.Length != 2) return null;
        var bias = layout.Bias is { } b ? n.Inputs[b] : null;
        return new LayerSpec(n.Inputs[1]!, layout.OutputAxis, layout.InputAxis, g, layout.Spatial, bias);
    }

    /// <summary>Every filter reads one channel and makes one: weight [g, 1, k…] with g groups.</summary>
    private static bool IsDepthwise(long[] dims, WeightLayout layout) => dims[layout.OutputAxis] == layout.Groups && dims[layout.InputAxis] == 1;

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
            if (value.Producer is { } p && OpRoles.IsRectifier(p))
                foreach (var id in layout.Refs.Select(r => Root(r.Group)).Distinct())
                    _all[id].Activations.Add(value);
        foreach (var g in roots) g.Blocker ??= FinalBlocker(g);
        var repeated = roots.GroupBy(g => g.Name).Where(n => n.Count() > 1).Select(n => n.Key).ToHashSet();
        foreach (var g in roots) g.Key = repeated.Contains(g.Name) ? $"{g.Name}#{g.Id}" : g.Name;
        Groups = roots;
    }

    private string? FinalBlocker(ChannelGroup g)
    {
        if (g.Channels < 2) return "it has a single channel";
        if (!Consumers.Any(c => _layouts[c.Input].Refs.Any(r => Root(r.Group) == g.Id))) return "its channels reach no consuming layer";
        if (g.PatternBlocks.Concat(g.EqualBlocks).Distinct().Count() > 1) return "grouped convolutions with different group counts read or make its channels";
        return null;
    }

    private ChannelLayout? L(Value? v) => v is not null && _layouts.TryGetValue(v, out var l) ? l : null;

    /// <summary>Does the value carry followed channels (a layout, or the middle of a shuffle)?</summary>
    private bool Flows(Value? v) => v is not null && (_layouts.ContainsKey(v) || _shuffled.ContainsKey(v));

    private void Set(Value? v, ChannelLayout layout)
    {
        if (v is not null) _layouts[v] = layout;
    }

    private void Block(ChannelLayout layout, string reason)
    {
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

    private static string Feeds(Node node) => $"it feeds {node.OpType} '{node.DisplayName}', which Shrink cannot follow channel by channel";

    private void Visit(Node node)
    {
        // Values read inside If/Loop bodies keep their width: their groups are left alone.
        foreach (var sub in node.Subgraphs)
            foreach (var v in sub.Nodes.SelectMany(n => n.Inputs).OfType<Value>().Where(v => v.Producer?.Graph != sub && !sub.Inputs.Contains(v)))
                if (L(v) is { } read) Block(read, $"it is read inside a subgraph of '{node.DisplayName}'");
        var flowing = node.Inputs.Any(Flows);
        if (!node.IsDefaultDomain)
        {
            if (flowing) BlockInputs(node, Feeds(node));
            return;
        }
        if (Spec(node) is { } spec)
        {
            VisitLayer(node, spec);
            return;
        }
        if (!flowing || OpRoles.Channels(node) == ChannelFlowKind.ShapeOnly) return;
        var step = Route(node);
        if (step is null) BlockInputs(node, Feeds(node));
        _steps.Add(step is not null && node.Outputs.Any(Flows) ? step : new UnfollowedStep(node));
    }

    private void VisitLayer(Node node, LayerSpec spec)
    {
        for (var i = 1; i < node.Inputs.Count; i++)
            if (L(node.Inputs[i]) is { } lw) Block(lw, $"it feeds the weights of '{node.DisplayName}'");
        var x = node.Inputs.ElementAtOrDefault(0);
        var reads = L(x) is { } lx ? Consume(node, spec, x!, lx) : null;
        Produce(node, spec);
        _steps.Add(new LayerStep(node, spec, reads));
    }

    /// <summary>The step of a node that is not a producing layer, by how the op registry says channels flow through it; null when it cannot be followed.</summary>
    private ChannelStep? Route(Node node)
    {
        var x = node.Inputs.ElementAtOrDefault(0);
        var lx = L(x);
        var onlyFirst = lx is not null && node.Inputs.Skip(1).All(v => !Flows(v));
        return OpRoles.Channels(node) switch
        {
            ChannelFlowKind.Layer when onlyFirst => Depthwise(node, x!, lx!),
            ChannelFlowKind.Normalization when onlyFirst && lx!.Spatial && node.Outputs.Skip(1).All(o => o is not { Uses.Count: > 0 }) => Normalization(node, x!),
            ChannelFlowKind.Elementwise when onlyFirst && OpRoles.KeepsZero(node) => Follow(node, x!, lx!.Spatial),
            ChannelFlowKind.Elementwise when onlyFirst && OpRoles.IsGate(node) => Gate(node, x!, lx!),
            ChannelFlowKind.Pad when onlyFirst && lx!.Spatial && OpRoles.KeepsZero(node) && PadKeepsChannels(node, x!, _shapeValues) => Follow(node, x!, true),
            ChannelFlowKind.Mul => Mul(node, x, lx, onlyFirst),
            ChannelFlowKind.Pool when onlyFirst && OpRoles.KeepsZero(node) && lx!.Spatial => Follow(node, x!, true),
            ChannelFlowKind.Add => Add(node, x, lx, onlyFirst),
            ChannelFlowKind.Reduce when onlyFirst && lx!.Spatial && OpRoles.KeepsZero(node) && ReduceKeepsChannels(node, x!, _shapeValues) is { } spatial
                => Follow(node, x!, spatial),
            ChannelFlowKind.Concat => Concat(node, x, lx),
            ChannelFlowKind.Split when onlyFirst && IsChannelAxis(node.GetInt("axis", 0), x!, lx!) => Split(node, x!, lx!),
            ChannelFlowKind.Slice when onlyFirst => Slice(node, x!, lx!),
            ChannelFlowKind.Flatten when onlyFirst && node.GetInt("axis", 1) == 1 => Flatten(node, x!, lx!, reshape: false),
            ChannelFlowKind.Reshape => Reshape(node, x, lx, onlyFirst),
            // Dense features divided by a constant scalar (GELU's x / √2) stay zero where they are pruned.
            ChannelFlowKind.Opaque when onlyFirst && !lx!.Spatial && node.OpType == "Div" && Graph.ConstantOf(node.Inputs[1]) is { ElementCount: 1 } c && c.ToDoubles()[0] != 0 => Follow(node, x!, false),
            ChannelFlowKind.Transpose when x is not null && _shuffled.TryGetValue(x, out var s) && node.GetInts("perm") is [0, 2, 1, 3, 4] => Transpose(node, x, s),
            _ => null,
        };
    }

    // ---- producers, consumers and per-channel parameters ----

    private void Produce(Node node, LayerSpec spec)
    {
        var channels = spec.Weight.Const!.Dims[spec.OutAxis];
        var id = _all.Count;
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
        Set(node.Outputs.ElementAtOrDefault(0), new ChannelLayout(Enumerable.Range(0, (int)channels).Select(c => new ChannelRef(id, c, 0)).ToArray(), spec.Spatial));
    }

    /// <summary>Records where the layer reads followed channels, or blocks them when it cannot be cut that way; the consumer, or null.</summary>
    private ChannelConsumer? Consume(Node node, LayerSpec spec, Value x, ChannelLayout lx)
    {
        var expected = spec.Weight.Const!.Dims[spec.InAxis] * spec.ConvGroups;
        if (lx.NonZero)
        {
            Block(lx, $"'{node.DisplayName}' reads a gate of them (a Sigmoid, say), which is not zero where they are pruned");
            return null;
        }
        if (lx.Spatial != spec.Spatial || lx.Length != expected)
        {
            Block(lx, lx.Spatial != spec.Spatial ? $"it mixes convolution channels and dense features at '{node.DisplayName}'"
                : $"'{node.DisplayName}' reads {expected} channels where {lx.Length} were followed");
            return null;
        }
        if (spec.Weight.Uses.Count > 1)
        {
            Block(lx, $"the weights of '{node.DisplayName}' are shared");
            return null;
        }
        if (spec.ConvGroups > 1)
        {
            // A grouped convolution reads the same positions in every conv group: only a whole group in order can be cut that way.
            var id = lx.Refs[0].Group;
            if (lx.Refs.Where((r, p) => r.Group != id || r.Index != p || r.Sub != 0).Any())
            {
                Block(lx, $"grouped convolution '{node.DisplayName}' reads channels of several groups");
                return null;
            }
            _all[id].PatternBlocks.Add(spec.ConvGroups);
        }
        var consumer = new ChannelConsumer(node, spec.Weight, spec.InAxis, x, spec.ConvGroups);
        Consumers.Add(consumer);
        return consumer;
    }

    /// <summary>A depthwise convolution: weight and bias per channel of its input; null (not followed) for other grouped layers.</summary>
    private ChannelStep? Depthwise(Node node, Value x, ChannelLayout lx)
    {
        if (OpRoles.Layer(node) is not { Spatial: true, Groups: > 1 } layout || node.Inputs.ElementAtOrDefault(layout.Weight)?.Const is not { DataType: DataType.Float } w
            || !IsDepthwise(w.Dims, layout) || layout.Groups != lx.Length || !lx.Spatial) return null;
        PerChannel(node, layout.Weight, x);
        if (layout.Bias is { } b) PerChannel(node, b, x);
        Set(node.Outputs.ElementAtOrDefault(0), lx);
        return new DepthwiseStep(node, x);
    }

    private ChannelStep Normalization(Node node, Value x)
    {
        foreach (var i in OpRegistry.Find(node.Domain, node.OpType)!.ChannelInputs) PerChannel(node, i, x);
        // The masked model zeroes γ and β of pruned channels: they are zero after it, whatever came in.
        Set(node.Outputs.ElementAtOrDefault(0), L(x)! with { NonZero = false });
        return new NormalizationStep(node, x);
    }

    /// <summary>A gate (Sigmoid, HardSigmoid) of the channels: followed, but not zero where they are pruned (<see cref="ChannelLayout.NonZero"/>).</summary>
    private ChannelStep Gate(Node node, Value x, ChannelLayout lx)
    {
        Set(node.Outputs.ElementAtOrDefault(0), lx with { NonZero = true });
        return new FollowStep(node, x, lx.Spatial);
    }

    /// <summary>A Pad that pads only spatial axes (pads known; none on the batch or channel axis).</summary>
    internal static bool PadKeepsChannels(Node node, Value x, IReadOnlyDictionary<Value, Dim[]> shapeValues)
    {
        if (x.Shape?.Rank is not { } rank) return false;
        var pads = node.GetInts("pads") ?? (node.Inputs.Count > 1 ? Ints(node, 1, shapeValues) : null);
        if (pads is null || pads.Length % 2 != 0) return false;
        var axes = node.Inputs.Count > 3 && node.Inputs[3] is { Name.Length: > 0 } ? Ints(node, 3, shapeValues) : Enumerable.Range(0, rank).Select(a => (long)a).ToArray();
        if (axes is null || axes.Length * 2 != pads.Length) return false;
        for (var i = 0; i < axes.Length; i++)
            if ((axes[i] < 0 ? axes[i] + rank : axes[i]) is 0 or 1 && (pads[i] != 0 || pads[i + axes.Length] != 0)) return false;
        return true;
    }

    private ChannelStep Follow(Node node, Value x, bool spatial)
    {
        Set(node.Outputs.ElementAtOrDefault(0), L(x)! with { Spatial = spatial });
        return new FollowStep(node, x, spatial);
    }

    /// <summary>A per-channel input (BatchNorm, depthwise Conv, a dense bias) indexed like <paramref name="x"/>'s channels.</summary>
    private void PerChannel(Node node, int input, Value x)
    {
        var v = node.Inputs.ElementAtOrDefault(input);
        var lx = L(x)!;
        if (v?.Const is not { } t || t.Dims.Length < 1 || t.Dims[0] != lx.Length || v.Uses.Count > 1)
            Block(lx, $"input {input} of '{node.DisplayName}' is not a per-channel constant of its own");
        else
            Parameters.Add(new ChannelParameter(node, v, 0, x, input));
    }
}
