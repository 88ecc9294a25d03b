using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Pruning;

/// <summary>
/// The per-op cutting of structured pruning: replays the steps of a <see cref="ChannelFlow"/> analysis on
/// the model it analysed, keeping the given channels of each root group. A layer's weight is sliced along
/// its output axis (and its bias) where it makes a group's channels and along its input axis where it reads
/// them (the same positions in every conv group); per-channel parameters are sliced; Split sizes, Slice
/// bounds, Reshape targets and depthwise group counts are rewritten. Every node must then read exactly the
/// channels it read before, minus the removed ones: when one would not (a Slice of a shuffled channel
/// order, say), the cut throws <see cref="ChannelConflictException"/> naming the groups involved, and the
/// half-cut model must be discarded.
/// </summary>
public sealed partial class ChannelCut
{
    private readonly Model _model;
    private readonly ChannelFlow _old;
    private readonly IReadOnlyDictionary<int, long[]> _keep;
    private readonly Dictionary<Value, ChannelLayout> _layouts = new();
    private readonly Dictionary<Value, ChannelShuffle> _shuffled = new();
    private IReadOnlyDictionary<Value, Dim[]> _shapeValues;

    private ChannelCut(ChannelFlow analysis, IReadOnlyDictionary<int, long[]> keep)
    {
        _model = analysis.Model;
        _old = analysis;
        _keep = keep;
        _shapeValues = ShapeInference.Run(_model).ShapeValues;
    }

    /// <summary>
    /// Cuts every group's channels down to <paramref name="keep"/> (sorted channel indices by root group id;
    /// groups not named keep all), in place, in the model <paramref name="analysis"/> analysed. Throws
    /// <see cref="ChannelConflictException"/> when a node would read other channels than before.
    /// </summary>
    public static void Apply(ChannelFlow analysis, IReadOnlyDictionary<int, long[]> keep)
    {
        var cut = new ChannelCut(analysis, keep);
        foreach (var step in analysis.Steps) cut.Cut(step);
        foreach (var v in analysis.Layouts.Keys.Concat(analysis.Shuffles.Keys)) v.Shape = null;
        ShapeInference.Run(analysis.Model);
    }

    private void Cut(ChannelStep step)
    {
        var done = step switch
        {
            LayerStep s => CutLayer(s),
            DepthwiseStep s => CutDepthwise(s),
            NormalizationStep s => CutNormalization(s),
            FollowStep s => Follow(s),
            BiasStep s => CutBias(s),
            TieStep s => CheckTie(s),
            ConcatStep s => Concat(s),
            SplitStep s => CutSplit(s),
            SliceStep s => CutSlice(s),
            FlattenStep s => CutFlatten(s),
            ShuffleStep s => CutShuffle(s),
            TransposeStep s => Transpose(s),
            UnshuffleStep s => CutUnshuffle(s),
            UnfollowedStep s => CheckUnfollowed(s),
            _ => throw new ArgumentOutOfRangeException(nameof(step), step.GetType().Name, "a step the cut does not know"),
        };
        if (!done)
            throw new ChannelConflictException(step.Node.Inputs.Select(Old).OfType<ChannelLayout>().SelectMany(l => l.Refs)
                .Select(r => _old.Root(r.Group)).ToHashSet(), $"'{step.Node.DisplayName}' can no longer be followed");
    }

    private ChannelLayout? L(Value? v) => v is not null && _layouts.TryGetValue(v, out var l) ? l : null;

    private ChannelLayout? Old(Value? v) => v is not null && _old.Layouts.TryGetValue(v, out var l) ? l : null;

    private void Set(Value? v, ChannelLayout layout)
    {
        if (v is null) return;
        if (layout.Length == 0 && Old(v) is { Length: > 0 } before) throw Conflict(before, $"'{v.Name}' would be left with no channels");
        _layouts[v] = layout;
    }

    private bool CutLayer(LayerStep s)
    {
        var x = s.Node.Inputs.ElementAtOrDefault(0);
        if (s.Reads is not null && L(x) is { } lx) CutInputs(s.Node, s.Spec, x!, lx);
        CutOutputs(s.Node, s.Spec);
        return true;
    }

    /// <summary>Slices the layer's weight along its output axis (and its bias) to the kept channels of its group.</summary>
    private void CutOutputs(Node node, LayerSpec spec)
    {
        var channels = spec.Weight.Const!.Dims[spec.OutAxis];
        var id = _old.ProducerGroup(node);
        var kept = _keep.TryGetValue(_old.Root(id), out var k) ? k : Enumerable.Range(0, (int)channels).Select(c => (long)c).ToArray();
        if (kept.Length != channels)
        {
            SliceTensor(spec.Weight, spec.OutAxis, kept);
            if (spec.Bias is { Const: not null }) SliceTensor(spec.Bias, 0, kept);
        }
        Set(node.Outputs.ElementAtOrDefault(0), new ChannelLayout(kept.Select(c => new ChannelRef(id, (int)c, 0)).ToArray(), spec.Spatial));
    }

    /// <summary>Slices the layer's weight along its input axis to the channels it still reads (per conv group: the same positions in each).</summary>
    private void CutInputs(Node node, LayerSpec spec, Value x, ChannelLayout lx)
    {
        var map = Map(x, lx);
        var before = Old(x)!.Length;
        if (map.Length == before) return;
        if (spec.ConvGroups == 1)
        {
            SliceTensor(spec.Weight, spec.InAxis, map);
            return;
        }
        var g = spec.ConvGroups;
        long block = before / g, newBlock = map.Length / g;
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

    private bool CutDepthwise(DepthwiseStep s)
    {
        if (L(s.Input) is not { Spatial: true } lx || OpRoles.Layer(s.Node) is not { } layout) return false;
        CutPerChannel(s.Node, layout.Weight, s.Input);
        if (layout.Bias is { } b) CutPerChannel(s.Node, b, s.Input);
        s.Node.SetAttribute(Ir.Attribute.Int("group", lx.Length));
        Set(s.Node.Outputs.ElementAtOrDefault(0), lx);
        return true;
    }

    private bool CutNormalization(NormalizationStep s)
    {
        if (L(s.Input) is not { } lx) return false;
        foreach (var i in OpRegistry.Find(s.Node.Domain, s.Node.OpType)!.ChannelInputs) CutPerChannel(s.Node, i, s.Input);
        Set(s.Node.Outputs.ElementAtOrDefault(0), lx);
        return true;
    }

    private bool CutBias(BiasStep s)
    {
        if (L(s.Input) is not { } lx) return false;
        CutPerChannel(s.Node, s.Parameter, s.Input);
        Set(s.Node.Outputs.ElementAtOrDefault(0), lx);
        return true;
    }

    /// <summary>A per-channel input (BatchNorm, depthwise Conv, a dense bias) sliced like <paramref name="x"/>'s channels.</summary>
    private void CutPerChannel(Node node, int input, Value x)
    {
        var v = node.Inputs.ElementAtOrDefault(input);
        if (v?.Const is null) return;
        var map = Map(x, L(x)!);
        if (map.Length != v.Const.Dims[0]) SliceTensor(v, 0, map);
    }

    private bool CheckUnfollowed(UnfollowedStep s)
    {
        // Not followed when analysed (its groups are left alone): it must still read exactly what it read before.
        var node = s.Node;
        foreach (var v in node.Inputs)
            if (L(v) is { } now && (now.Length != Old(v)?.Length || Map(v!, now).Where((p, q) => p != q).Any()))
                throw Conflict(now, $"'{node.DisplayName}' ({node.OpType}) was not followed and would read other channels");
            else if (v is not null && _shuffled.TryGetValue(v, out var shuffled) && shuffled.Layout.Length != _old.Shuffles.GetValueOrDefault(v)?.Layout.Length)
                throw Conflict(shuffled.Layout, $"'{node.DisplayName}' ({node.OpType}) was not followed and would read other channels");
        return true;
    }

    /// <summary>
    /// For a value's new layout, the position of each entry in its old layout; throws when the value
    /// would not carry exactly its old channels minus the removed ones.
    /// </summary>
    private long[] Map(Value x, ChannelLayout now)
    {
        var before = Old(x)!;
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
        !_keep.TryGetValue(_old.Root(r.Group), out var k) || Array.BinarySearch(k, (long)r.Index) >= 0;

    private ChannelConflictException Conflict(ChannelLayout layout, string reason) =>
        new(layout.Refs.Select(r => _old.Root(r.Group)).ToHashSet(), reason);
}
