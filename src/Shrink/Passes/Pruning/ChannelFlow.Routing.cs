using Shrink.Ir;

namespace Shrink.Passes.Pruning;

/// <summary>The analysis of the ops that route channels: residual ties and biases, Concat/Split/Slice offsets, Flatten and Reshape, channel shuffles.</summary>
public sealed partial class ChannelFlow
{
    private ChannelStep? Add(Node node, Value? x, ChannelLayout? lx, bool onlyFirst)
    {
        // A bias added after MatMul (PyTorch's Linear export): one entry per feature.
        if (onlyFirst && !lx!.Spatial && node.Inputs.ElementAtOrDefault(1)?.Const is { Dims.Length: 1 }) return Bias(node, 1, x!);
        if (x?.Const is { Dims.Length: 1 } && node.Inputs.Count == 2 && L(node.Inputs[1]) is { Spatial: false }) return Bias(node, 0, node.Inputs[1]!);
        // A scalar added to dense features (GELU's 1 + erf(x/√2)): followed, but no longer zero where they are pruned.
        if (onlyFirst && !lx!.Spatial && Graph.ConstantOf(node.Inputs.ElementAtOrDefault(1)) is { ElementCount: 1 }) return Gate(node, x!, lx);
        if (lx is null && Graph.ConstantOf(x) is { ElementCount: 1 } && L(node.Inputs.ElementAtOrDefault(1)) is { Spatial: false } ly1) return Gate(node, node.Inputs[1]!, ly1);
        if (L(node.Inputs.ElementAtOrDefault(1)) is { } ly && lx is not null && node.Inputs.Count == 2) return Tie(node, x!, node.Inputs[1]!, lx, ly);
        return null;
    }

    /// <summary>
    /// A Mul: of two tensors with the same channels (a squeeze-excitation gate onto the channels it was computed from,
    /// SiLU's x · σ(x)) it ties their groups; of a tensor by a constant scalar it follows the channels.
    /// </summary>
    private ChannelStep? Mul(Node node, Value? x, ChannelLayout? lx, bool onlyFirst)
    {
        if (node.Inputs.Count != 2) return null;
        var y = node.Inputs[1];
        if (onlyFirst) return Graph.ConstantOf(y) is { ElementCount: 1 } ? Follow(node, x!, lx!.Spatial) : null;
        if (lx is null) return Graph.ConstantOf(x) is { ElementCount: 1 } && L(y) is { } only ? Follow(node, y!, only.Spatial) : null;
        return L(y) is { } ly ? Tie(node, x!, y!, lx, ly, multiplies: true) : null;
    }

    private ChannelStep Bias(Node node, int parameter, Value input)
    {
        PerChannel(node, parameter, input);
        Set(node.Outputs.ElementAtOrDefault(0), L(input)!);
        return new BiasStep(node, parameter, input);
    }

    /// <summary>
    /// Both inputs carry the same channels position by position (a residual Add; a Mul of a gate onto its channels): their
    /// groups are tied. The pruned channels stay zero after an Add of two zero layouts, and after a Mul where either is zero.
    /// </summary>
    private ChannelStep Tie(Node node, Value x, Value y, ChannelLayout a, ChannelLayout b, bool multiplies = false)
    {
        Set(node.Outputs.ElementAtOrDefault(0), a with { NonZero = multiplies ? a.NonZero && b.NonZero : a.NonZero || b.NonZero });
        var step = new TieStep(node, x, y);
        var verb = multiplies ? "multiplies" : "adds";
        string? reason = a.Length != b.Length || a.Spatial != b.Spatial ? $"'{node.DisplayName}' {verb} tensors of different channel layouts"
            : a.Refs.Zip(b.Refs).Any(p => p.First.Index != p.Second.Index || p.First.Sub != p.Second.Sub || _all[Root(p.First.Group)].Channels != _all[Root(p.Second.Group)].Channels)
                ? $"'{node.DisplayName}' {verb} different channels together" : null;
        if (reason is not null)
        {
            Block(a, reason);
            Block(b, reason);
            return step;
        }
        foreach (var (p, q) in a.Refs.Zip(b.Refs))
        {
            var (ra, rb) = (Root(p.Group), Root(q.Group));
            if (ra != rb) _parent[ra] = rb;
        }
        return step;
    }

    private ChannelStep? Concat(Node node, Value? x, ChannelLayout? lx)
    {
        if (lx is null || !node.Inputs.All(v => L(v) is not null) || node.Inputs.Select(v => L(v)!.Spatial).Distinct().Count() != 1
            || !IsChannelAxis(node.GetInt("axis", 0), x!, lx)) return null;
        Set(node.Outputs.ElementAtOrDefault(0), new ChannelLayout(node.Inputs.SelectMany(v => L(v)!.Refs).ToArray(), lx.Spatial)
        {
            NonZero = node.Inputs.Any(v => L(v)!.NonZero),
        });
        return new ConcatStep(node);
    }

    /// <summary>Is <paramref name="axis"/> the channel axis of <paramref name="x"/>?</summary>
    internal static bool IsChannelAxis(long axis, Value x, ChannelLayout l)
    {
        var rank = x.Shape?.Rank;
        if (axis < 0 && rank is { } r) axis += r;
        return l.Spatial ? axis == 1 : axis == -1 || rank is { } k && axis == k - 1;
    }

    /// <summary>The values of a small integer input: constant, or computed from Shape ops (unknown entries, such as the batch size, are null).</summary>
    internal static long?[]? Values(Node node, int input, IReadOnlyDictionary<Value, Dim[]> shapeValues) =>
        node.Inputs.ElementAtOrDefault(input) is { Name.Length: > 0 } v
        && (shapeValues.TryGetValue(v, out var d) ? d : Graph.ConstantOf(v)?.ToInt64s().Select(Dim.Of).ToArray()) is { } dims
            ? dims.Select(x => x.Value).ToArray() : null;

    internal static long[]? Ints(Node node, int input, IReadOnlyDictionary<Value, Dim[]> shapeValues) =>
        Values(node, input, shapeValues) is { } values && values.All(x => x.HasValue) ? values.Select(x => x!.Value).ToArray() : null;

    private ChannelStep? Split(Node node, Value x, ChannelLayout lx)
    {
        var outputs = node.Outputs.Count;
        var input = node.Inputs.ElementAtOrDefault(1) is { Name.Length: > 0 };
        var given = input ? (Graph.ConstantOf(node.Inputs[1]) is { } c ? c.ToInt64s() : null) : node.GetInts("split");
        if (given is null && input) return null;
        if (given is null)
        {
            if (lx.Length % outputs != 0) return null;
            given = Enumerable.Repeat((long)(lx.Length / outputs), outputs).ToArray();
        }
        if (given.Length != outputs || given.Sum() != lx.Length) return null;
        SetParts(node, lx, given);
        return new SplitStep(node, x);
    }

    /// <summary>Split's outputs: consecutive runs of the input's channels.</summary>
    private void SetParts(Node node, ChannelLayout lx, long[] sizes)
    {
        var offset = 0;
        for (var i = 0; i < node.Outputs.Count; i++)
        {
            Set(node.Outputs[i], lx with { Refs = lx.Refs.Skip(offset).Take((int)sizes[i]).ToArray() });
            offset += (int)sizes[i];
        }
    }

    /// <summary>A Slice's bounds, axes and steps as known now; null when Shrink cannot read them (Slice-1's attributes, unknown values).</summary>
    internal static (long[] Starts, long[] Ends, long[] Axes, long[]? Steps)? SliceBounds(Node node, IReadOnlyDictionary<Value, Dim[]> shapeValues)
    {
        if (node.Inputs.Count < 3) return null; // Slice-1 (attributes) is not followed
        var starts = Ints(node, 1, shapeValues);
        var ends = Ints(node, 2, shapeValues);
        if (starts is null || ends is null || starts.Length != ends.Length) return null;
        var axes = node.Inputs.Count > 3 && node.Inputs[3] is { Name.Length: > 0 } ? Ints(node, 3, shapeValues) : Enumerable.Range(0, starts.Length).Select(a => (long)a).ToArray();
        var steps = node.Inputs.Count > 4 && node.Inputs[4] is { Name.Length: > 0 } ? Ints(node, 4, shapeValues) : null;
        if (axes is null || axes.Length != starts.Length) return null;
        return (starts, ends, axes, steps);
    }

    private ChannelStep? Slice(Node node, Value x, ChannelLayout lx)
    {
        if (SliceBounds(node, _shapeValues) is not var (starts, ends, axes, steps)) return null;
        var i = Array.FindIndex(axes, a => IsChannelAxis(a, x, lx));
        if (i < 0)
        {
            Set(node.Outputs[0], lx);
            return new SliceStep(node, x);
        }
        if (steps is not null && steps[i] != 1) return null;
        var (s, e) = Bounds(starts[i], ends[i], lx.Length);
        Set(node.Outputs[0], lx with { Refs = lx.Refs.Skip(s).Take(Math.Max(0, e - s)).ToArray() });
        return new SliceStep(node, x);
    }

    /// <summary>
    /// A reduction over spatial axes keeps channel c at c: null when it reduces the batch or channel axis
    /// (or the axes are unknown); true when the channels stay on axis 1 (keepdims); false when all spatial
    /// axes are dropped and the channels end up on the last axis of an [N, C] result.
    /// </summary>
    internal static bool? ReduceKeepsChannels(Node node, Value x, IReadOnlyDictionary<Value, Dim[]> shapeValues)
    {
        if (x.Shape?.Rank is not { } rank) return null;
        var axes = node.GetInts("axes") ?? (node.Inputs.Count > 1 ? Ints(node, 1, shapeValues) : null);
        if (axes is null || axes.Length == 0) return null;
        var normalized = axes.Select(a => a < 0 ? a + rank : a).Order().ToArray();
        if (normalized.Contains(0) || normalized.Contains(1)) return null;
        if (node.GetInt("keepdims", 1) != 0) return true;
        return normalized.SequenceEqual(Enumerable.Range(2, rank - 2).Select(a => (long)a)) ? false : null;
    }

    internal static (int Start, int End) Bounds(long start, long end, int length)
    {
        long Clamp(long v) => Math.Clamp(v < 0 ? v + length : v, 0, length);
        return ((int)Clamp(start), (int)Clamp(end));
    }

    /// <summary>Flatten of [N, C, spatial…] with known spatial size: channel c becomes features c·S … c·S + S − 1.</summary>
    private ChannelStep? Flatten(Node node, Value x, ChannelLayout lx, bool reshape)
    {
        if (!lx.Spatial || SpatialSize(x) is not { } s || s < 1) return null;
        Set(node.Outputs[0], Blocks(lx, s));
        return new FlattenStep(node, x, reshape);
    }

    /// <summary>A layout flattened: each channel becomes <paramref name="size"/> consecutive features.</summary>
    internal static ChannelLayout Blocks(ChannelLayout lx, int size) =>
        new(lx.Refs.SelectMany(r => Enumerable.Range(0, size).Select(k => r with { Sub = k })).ToArray(), false) { NonZero = lx.NonZero };

    private static int? SpatialSize(Value x)
    {
        if (x.Shape is not { Rank: >= 2 } shape) return null;
        long size = 1;
        for (var i = 2; i < shape.Rank; i++)
            if (shape.Dims[i].Value is { } d) size *= d;
            else return null;
        return (int)size;
    }

    /// <summary>Reshape that flattens [N, C, H, W] to [N, C·H·W], or the first or last step of a channel shuffle ([N, g, C/g, H, W] and back).</summary>
    private ChannelStep? Reshape(Node node, Value? x, ChannelLayout? lx, bool onlyFirst)
    {
        if (onlyFirst && lx!.Spatial && x!.Shape is { Rank: 4 } && Values(node, 1, _shapeValues) is { } target)
        {
            if (target.Length == 2 && SpatialSize(x) is { } spatial && (target[1] == -1 || target[1] == lx.Length * (long)spatial)
                && Flatten(node, x, lx, reshape: true) is { } flattened) return flattened;
            if (target.Length == 5 && target[1] is long groups && groups > 1 && lx.Length % groups == 0 && (target[2] == -1 || target[2] == lx.Length / groups))
            {
                var g = (int)groups;
                _shuffled[node.Outputs[0]!] = new ChannelShuffle(lx, g, false);
                foreach (var id in lx.Refs.Select(r => r.Group).Distinct()) _all[id].Divisors.Add(g);
                return new ShuffleStep(node, x, g);
            }
        }
        return x is not null && _shuffled.TryGetValue(x, out var shuffled) ? Unshuffle(node, x, shuffled) : null;
    }

    private ChannelStep Transpose(Node node, Value x, ChannelShuffle s)
    {
        _shuffled[node.Outputs[0]!] = s with { Transposed = !s.Transposed };
        return new TransposeStep(node, x);
    }

    /// <summary>The last step of a channel shuffle: [N, C/g, g, H, W] back to [N, C, H, W]; channel k·g + i was channel i·C/g + k.</summary>
    private ChannelStep Unshuffle(Node node, Value x, ChannelShuffle s)
    {
        if (Values(node, 1, _shapeValues) is not { Length: 4 } target || target[1] != -1 && target[1] != s.Layout.Length)
            Block(s.Layout, Feeds(node));
        else
            Set(node.Outputs[0], Unshuffled(s));
        return new UnshuffleStep(node, x);
    }

    internal static ChannelLayout Unshuffled(ChannelShuffle s)
    {
        var refs = s.Layout.Refs;
        var inner = refs.Length / s.Groups;
        var result = new ChannelRef[refs.Length];
        for (var i = 0; i < s.Groups; i++)
            for (var k = 0; k < inner; k++)
                result[s.Transposed ? k * s.Groups + i : i * inner + k] = refs[i * inner + k];
        return new ChannelLayout(result, true) { NonZero = s.Layout.NonZero };
    }
}
