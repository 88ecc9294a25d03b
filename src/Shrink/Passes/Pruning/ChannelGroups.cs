using Shrink.Ir;

namespace Shrink.Passes.Pruning;

/// <summary>Where a layer produces the channels of a group: its weight's output axis.</summary>
public sealed record ChannelProducer(Node Layer, Value Weight, int Axis, Value? Bias);

/// <summary>A per-channel tensor along the way (BatchNorm parameters, a depthwise Conv's weight and bias).</summary>
public sealed record ChannelParameter(Node Layer, Value Tensor, int Axis);

/// <summary>Where a layer consumes the group's channels: its weight's input axis, in blocks of <see cref="Block"/> (Flatten → Gemm).</summary>
public sealed record ChannelConsumer(Node Layer, Value Weight, int Axis, long Block);

/// <summary>
/// Channels that must be pruned together: every value between the producers (Conv, Gemm, MatMul
/// outputs) and the consumers (the next Conv, Gemm, MatMul, possibly behind a Flatten), through ops
/// that map channel c to channel c and zero to zero (BatchNorm, ReLU-like activations, pooling,
/// Dropout, depthwise Conv), with residual Adds tying their inputs' groups together.
/// </summary>
public sealed class ChannelGroup
{
    public List<Value> Values { get; } = new();
    public List<ChannelProducer> Producers { get; } = new();
    public List<ChannelParameter> Parameters { get; } = new();
    public List<ChannelConsumer> Consumers { get; } = new();
    public List<Node> Depthwise { get; } = new();
    public List<Node> Flattens { get; } = new();

    /// <summary>Why the group cannot be pruned safely, or null.</summary>
    public string? Blocker { get; set; }

    public long Channels { get; set; } = -1;

    /// <summary>A name for reports: the producers' layer names.</summary>
    public string Name => string.Join("+", Producers.Select(p => p.Layer.DisplayName));
}

/// <summary>Finds the channel groups of a graph.</summary>
public static class ChannelGroups
{
    private static readonly HashSet<string> ZeroPreserving = new() { "Relu", "LeakyRelu", "Tanh", "Gelu", "Identity", "Dropout", "HardSwish", "Elu",
        "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool" };

    public static IReadOnlyList<ChannelGroup> Find(Model model)
    {
        var graph = model.Graph;
        var parent = new Dictionary<Value, Value>();
        Value Root(Value v)
        {
            while (parent.TryGetValue(v, out var p) && p != v) v = p;
            return v;
        }
        void Union(Value a, Value b)
        {
            var (ra, rb) = (Root(a), Root(b));
            if (ra != rb) parent[ra] = rb;
        }
        bool Dynamic(Value? v) => v is not null && Graph.ConstantOf(v) is null;

        foreach (var v in graph.Values) parent[v] = v;
        foreach (var node in graph.Nodes)
        {
            if (!node.IsDefaultDomain || node.Outputs.Count == 0 || node.Outputs[0] is not { } output) continue;
            var x = node.Inputs.ElementAtOrDefault(0);
            if (!Dynamic(x)) continue;
            if (ChannelWise(node) || IsDepthwise(node) || node.OpType == "BatchNormalization") Union(x!, output);
            else if (node.OpType == "Add" && Dynamic(node.Inputs.ElementAtOrDefault(1)))
            {
                Union(x!, output);
                Union(node.Inputs[1]!, output);
            }
        }

        var groups = new Dictionary<Value, ChannelGroup>();
        ChannelGroup GroupOf(Value v)
        {
            var root = Root(v);
            if (!groups.TryGetValue(root, out var g)) groups[root] = g = new ChannelGroup();
            return g;
        }
        foreach (var v in graph.Values.Where(v => !v.IsInitializer)) GroupOf(v).Values.Add(v);

        foreach (var node in graph.Nodes)
        {
            if (Producer(node) is { } producer && node.Outputs[0] is { } o) GroupOf(o).Producers.Add(producer);
        }
        foreach (var group in groups.Values.Where(g => g.Producers.Count > 0)) Classify(model, group);
        return groups.Values.Where(g => g.Producers.Count > 0).ToList();
    }

    private static bool ChannelWise(Node n) => ZeroPreserving.Contains(n.OpType)
        || (n.OpType == "Clip" && ClipKeepsZero(n));

    private static bool ClipKeepsZero(Node n)
    {
        var min = n.Inputs.ElementAtOrDefault(1) is { } a ? Graph.ConstantOf(a)?.ToDoubles()[0] : n.GetAttribute("min") is null ? null : n.GetFloat("min", 0);
        var max = n.Inputs.ElementAtOrDefault(2) is { } b ? Graph.ConstantOf(b)?.ToDoubles()[0] : n.GetAttribute("max") is null ? null : n.GetFloat("max", 0);
        return (min ?? double.NegativeInfinity) <= 0 && (max ?? double.PositiveInfinity) >= 0;
    }

    private static bool IsDepthwise(Node n) =>
        n.OpType == "Conv" && n.GetInt("group", 1) is var g && g > 1 && Graph.ConstantOf(n.Inputs.ElementAtOrDefault(1)) is { } w && w.Dims[0] == g && w.Dims[1] == 1;

    private static ChannelProducer? Producer(Node n)
    {
        if (!n.IsDefaultDomain) return null;
        var w = n.Inputs.ElementAtOrDefault(1);
        if (w?.Const is not { DataType: DataType.Float } t) return null;
        return n.OpType switch
        {
            "Conv" when n.GetInt("group", 1) == 1 => new ChannelProducer(n, w, 0, n.Inputs.ElementAtOrDefault(2)),
            "Gemm" when n.GetInt("transA", 0) == 0 => new ChannelProducer(n, w, n.GetInt("transB", 0) != 0 ? 0 : 1, n.Inputs.ElementAtOrDefault(2)),
            "MatMul" when t.Dims.Length == 2 => new ChannelProducer(n, w, 1, null),
            _ => null,
        };
    }

    /// <summary>Checks every use of every value in the group; anything but a known channel-wise step or consumer blocks it.</summary>
    private static void Classify(Model model, ChannelGroup g)
    {
        var graph = model.Graph;
        var counts = g.Producers.Select(p => p.Weight.Const!.Dims[p.Axis]).Distinct().ToList();
        if (counts.Count != 1) { g.Blocker = $"its producers disagree on the channel count ({string.Join(", ", counts)})"; return; }
        g.Channels = counts[0];
        if (g.Channels < 2) { g.Blocker = "it has a single channel"; return; }
        // Conv channels sit on axis 1, Gemm/MatMul features on the last axis: only elementwise steps and Adds are axis-agnostic.
        var spatial = g.Producers.All(p => p.Layer.OpType == "Conv");
        if (!spatial && g.Producers.Any(p => p.Layer.OpType == "Conv")) { g.Blocker = "it mixes convolution channels and dense features"; return; }
        foreach (var p in g.Producers)
        {
            if (Shared(p.Weight) || (p.Bias is { } b && (Shared(b) || b.Const is null || b.Const.Dims is not [var n] || n != g.Channels)))
            {
                g.Blocker = $"the weights of '{p.Layer.DisplayName}' are shared or its bias is not per channel";
                return;
            }
        }
        foreach (var v in g.Values)
        {
            if (graph.Outputs.Contains(v)) { g.Blocker = $"'{v.Name}' is a graph output"; return; }
            if (graph.Inputs.Contains(v)) { g.Blocker = $"'{v.Name}' is a graph input"; return; }
            foreach (var use in v.Uses)
            {
                var node = use.Node;
                var axisBound = node.OpType is "BatchNormalization" or "MaxPool" or "AveragePool" or "GlobalAveragePool" or "GlobalMaxPool" or "Conv" or "Flatten";
                if (axisBound && !spatial)
                {
                    g.Blocker = $"'{v.Name}' (dense features) feeds {node.OpType} '{node.DisplayName}', which works on channel axis 1";
                    return;
                }
                if (use.Index == 0 && (ChannelWise(node) || node.OpType == "BatchNormalization" && node.Outputs.Count(o => o is { Uses.Count: > 0 }) <= 1))
                {
                    if (node.OpType == "BatchNormalization")
                        for (var i = 1; i <= 4; i++)
                            if (!AddParameter(graph, g, node, i, 0)) return;
                    continue;
                }
                if (node.OpType == "Add" && Graph.ConstantOf(node.Inputs.ElementAtOrDefault(1 - use.Index)) is null && use.Index <= 1) continue;
                if (use.Index == 0 && IsDepthwise(node) && node.GetInt("group", 1) == g.Channels)
                {
                    g.Depthwise.Add(node);
                    if (!AddParameter(graph, g, node, 1, 0)) return;
                    if (node.Inputs.ElementAtOrDefault(2) is { Name.Length: > 0 } && !AddParameter(graph, g, node, 2, 0)) return;
                    continue;
                }
                if (use.Index == 0 && Consumer(node, 1) is { } c && (c.Layer.OpType == "Conv") == spatial) { g.Consumers.Add(c); continue; }
                if (use.Index == 0 && node.OpType == "Flatten" && FlattenConsumers(model, g, node, v) is { } fc)
                {
                    g.Flattens.Add(node);
                    g.Consumers.AddRange(fc);
                    continue;
                }
                g.Blocker = $"'{v.Name}' feeds {node.OpType} '{node.DisplayName}', which Shrink cannot follow channel by channel";
                return;
            }
        }
        if (g.Consumers.Count == 0) g.Blocker = "its channels reach no consuming layer";
        else if (g.Consumers.Any(c => Shared(c.Weight))) g.Blocker = "a consumer's weights are shared";
    }

    private static ChannelConsumer? Consumer(Node n, long block)
    {
        var w = n.Inputs.ElementAtOrDefault(1);
        if (w?.Const is not { DataType: DataType.Float } t) return null;
        return n.OpType switch
        {
            "Conv" when n.GetInt("group", 1) == 1 && block == 1 => new ChannelConsumer(n, w, 1, 1),
            "Gemm" when n.GetInt("transA", 0) == 0 => new ChannelConsumer(n, w, n.GetInt("transB", 0) != 0 ? 1 : 0, block),
            "MatMul" when t.Dims.Length == 2 => new ChannelConsumer(n, w, 0, block),
            _ => null,
        };
    }

    /// <summary>Flatten(axis 1) of [N, C, spatial…] with known spatial size, read only by Gemm/MatMul: channel c is a block of features.</summary>
    private static List<ChannelConsumer>? FlattenConsumers(Model model, ChannelGroup g, Node flatten, Value input)
    {
        if (flatten.GetInt("axis", 1) != 1 || input.Shape is not { } shape || shape.Rank < 2) return null;
        var spatial = 1L;
        for (var i = 2; i < shape.Rank; i++)
        {
            if (shape.Dims[i].Value is not { } d) return null;
            spatial *= d;
        }
        var output = flatten.Outputs[0];
        if (output is null || model.Graph.Outputs.Contains(output)) return null;
        var result = new List<ChannelConsumer>();
        foreach (var use in output.Uses)
            if (use.Index != 0 || Consumer(use.Node, spatial) is not { } c) return null;
            else result.Add(c);
        return result.Count > 0 ? result : null;
    }

    private static bool AddParameter(Graph graph, ChannelGroup g, Node node, int input, int axis)
    {
        var v = node.Inputs.ElementAtOrDefault(input);
        if (v?.Const is not { } t || t.Dims.Length <= axis || t.Dims[axis] != g.Channels || Shared(v))
        {
            g.Blocker = $"input {input} of '{node.DisplayName}' is not a per-channel constant of its own";
            return false;
        }
        g.Parameters.Add(new ChannelParameter(node, v, axis));
        return true;
    }

    private static bool Shared(Value v) => v.Uses.Count > 1;
}
