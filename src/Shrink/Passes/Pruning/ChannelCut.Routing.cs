using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Pruning;

/// <summary>The cut of the ops that route channels: ties checked, Concat followed, Split sizes, Slice bounds and Reshape targets rewritten; and the tensor edits.</summary>
public sealed partial class ChannelCut
{
    private bool Follow(FollowStep s)
    {
        if (L(s.Input) is not { } lx) return false;
        var spatial = s.Spatial;
        if (OpRoles.Channels(s.Node) == ChannelFlowKind.Reduce)
        {
            if (ChannelFlow.ReduceKeepsChannels(s.Node, s.Input, _shapeValues) is not { } reduced) return false;
            spatial = reduced;
        }
        Set(s.Node.Outputs.ElementAtOrDefault(0), lx.Spatial == spatial ? lx : lx with { Spatial = spatial });
        return true;
    }

    private bool CheckTie(TieStep s)
    {
        if (L(s.A) is not { } a || L(s.B) is not { } b) return false;
        if (a.Length != b.Length || a.Refs.Zip(b.Refs).Any(p => _old.Root(p.First.Group) != _old.Root(p.Second.Group) || p.First.Index != p.Second.Index || p.First.Sub != p.Second.Sub))
            throw Conflict(a, $"the inputs of '{s.Node.DisplayName}' would no longer line up");
        Set(s.Node.Outputs.ElementAtOrDefault(0), a);
        return true;
    }

    private bool Concat(ConcatStep s)
    {
        var node = s.Node;
        if (L(node.Inputs.ElementAtOrDefault(0)) is not { } lx || !node.Inputs.All(v => L(v) is not null) || node.Inputs.Select(v => L(v)!.Spatial).Distinct().Count() != 1
            || !ChannelFlow.IsChannelAxis(node.GetInt("axis", 0), node.Inputs[0]!, lx)) return false;
        Set(node.Outputs.ElementAtOrDefault(0), new ChannelLayout(node.Inputs.SelectMany(v => L(v)!.Refs).ToArray(), lx.Spatial));
        return true;
    }

    /// <summary>Each output keeps its kept channels; the sizes are written out explicitly.</summary>
    private bool CutSplit(SplitStep s)
    {
        var node = s.Node;
        if (L(s.Input) is not { } lx || !ChannelFlow.IsChannelAxis(node.GetInt("axis", 0), s.Input, lx)) return false;
        var sizes = node.Outputs.Select(o => (long)Old(o)!.Refs.Count(Kept)).ToArray();
        var split = Tensor.FromInt64s(node.Name + "_split", new long[] { sizes.Length }, sizes);
        if (_model.DefaultOpset >= 13) SetConstInput(node, 1, split);
        else node.SetAttribute(Ir.Attribute.Ints("split", sizes));
        node.Attributes.RemoveAll(a => a.Name == "num_outputs");
        var offset = 0;
        for (var i = 0; i < node.Outputs.Count; i++)
        {
            Set(node.Outputs[i], new ChannelLayout(lx.Refs.Skip(offset).Take((int)sizes[i]).ToArray(), lx.Spatial));
            offset += (int)sizes[i];
        }
        return true;
    }

    private bool CutSlice(SliceStep s)
    {
        var (node, x) = (s.Node, s.Input);
        if (L(x) is not { } lx || ChannelFlow.SliceBounds(node, _shapeValues) is not var (starts, ends, axes, steps)) return false;
        var i = Array.FindIndex(axes, a => ChannelFlow.IsChannelAxis(a, x, lx));
        if (i < 0)
        {
            Set(node.Outputs[0], lx);
            return true;
        }
        if (steps is not null && steps[i] != 1) return false;
        if (Graph.ConstantOf(node.Inputs[1]) is null || Graph.ConstantOf(node.Inputs[2]) is null)
        {
            // Bounds computed from Shape at run time: evaluate them on the model cut so far.
            RefreshShapeValues();
            starts = ChannelFlow.Ints(node, 1, _shapeValues) ?? throw Conflict(lx, $"the bounds of '{node.DisplayName}' can no longer be computed");
            ends = ChannelFlow.Ints(node, 2, _shapeValues) ?? throw Conflict(lx, $"the bounds of '{node.DisplayName}' can no longer be computed");
        }
        else (starts, ends) = RewriteBounds(node, x, i, starts, ends);
        var (start, end) = ChannelFlow.Bounds(starts[i], ends[i], lx.Length);
        Set(node.Outputs[0], new ChannelLayout(lx.Refs.Skip(start).Take(Math.Max(0, end - start)).ToArray(), lx.Spatial));
        return true;
    }

    /// <summary>Constant Slice bounds on the channel axis (entry <paramref name="i"/>) moved to count only the kept channels before them.</summary>
    private (long[] Starts, long[] Ends) RewriteBounds(Node node, Value x, int i, long[] starts, long[] ends)
    {
        var before = Old(x)!;
        var (s0, e0) = ChannelFlow.Bounds(starts[i], ends[i], before.Length);
        var newStarts = (long[])starts.Clone();
        var newEnds = (long[])ends.Clone();
        newStarts[i] = before.Refs.Take(s0).Count(Kept);
        newEnds[i] = before.Refs.Take(e0).Count(Kept);
        SetConstInput(node, 1, IndexTensor(node.Name + "_starts", newStarts, Graph.ConstantOf(node.Inputs[1])!.DataType));
        SetConstInput(node, 2, IndexTensor(node.Name + "_ends", newEnds, Graph.ConstantOf(node.Inputs[2])!.DataType));
        return (newStarts, newEnds);
    }

    private bool CutFlatten(FlattenStep s)
    {
        var (node, x) = (s.Node, s.Input);
        if (L(x) is not { Spatial: true } lx) return false;
        var size = Old(node.Outputs[0])!.Length / Old(x)!.Length;
        if (s.Reshape)
        {
            if (x.Shape is not { Rank: 4 }) return false;
            RewriteTarget(node, 1, lx.Length * size, lx);
        }
        else if (size < 1) return false;
        Set(node.Outputs[0], ChannelFlow.Blocks(lx, size));
        return true;
    }

    private bool CutShuffle(ShuffleStep s)
    {
        var node = s.Node;
        if (L(s.Input) is not { Spatial: true } lx || s.Input.Shape is not { Rank: 4 }) return false;
        if (lx.Length % s.Groups != 0) throw Conflict(lx, $"the channel shuffle at '{node.DisplayName}' needs a multiple of {s.Groups} channels");
        RewriteTarget(node, 2, lx.Length / s.Groups, lx);
        _shuffled[node.Outputs[0]!] = new ChannelShuffle(lx, s.Groups, false);
        return true;
    }

    private bool Transpose(TransposeStep s)
    {
        if (!_shuffled.TryGetValue(s.Input, out var shuffled)) return false;
        _shuffled[s.Node.Outputs[0]!] = shuffled with { Transposed = !shuffled.Transposed };
        return true;
    }

    private bool CutUnshuffle(UnshuffleStep s)
    {
        if (!_shuffled.TryGetValue(s.Input, out var shuffled)) return false;
        var result = ChannelFlow.Unshuffled(shuffled);
        RewriteTarget(s.Node, 1, shuffled.Layout.Length, shuffled.Layout);
        Set(s.Node.Outputs[0], result);
        return true;
    }

    /// <summary>Shape values of the model as cut so far (upstream of the node being cut).</summary>
    private void RefreshShapeValues()
    {
        foreach (var v in _layouts.Keys.Concat(_shuffled.Keys)) v.Shape = null;
        _shapeValues = ShapeInference.Run(_model).ShapeValues;
    }

    private void RewriteTarget(Node node, int index, long value, ChannelLayout layout)
    {
        if (Graph.ConstantOf(node.Inputs[1]) is not { } t)
        {
            // Computed at run time: from Shape it follows the cut by itself, but a constant element inside the computation does not.
            RefreshShapeValues();
            if (ChannelFlow.Values(node, 1, _shapeValues)?.ElementAtOrDefault(index) is not (-1 or null) and var computed && computed != value)
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

    /// <summary>A 1-D index tensor of the given type (Slice takes int32 or int64 bounds, all of one type).</summary>
    private static Tensor IndexTensor(string name, long[] values, DataType type) => type == DataType.Int32
        ? new Tensor(name, DataType.Int32, new long[] { values.Length }, values.SelectMany(v => BitConverter.GetBytes(checked((int)Math.Clamp(v, int.MinValue, int.MaxValue)))).ToArray())
        : Tensor.FromInt64s(name, new long[] { values.Length }, values);
}
