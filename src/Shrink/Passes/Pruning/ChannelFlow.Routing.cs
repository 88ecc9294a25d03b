using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Pruning;

/// <summary>The ops that route channels: residual ties, Concat/Split/Slice offsets, Flatten and Reshape, channel shuffles; and the tensor edits of the cut.</summary>
public sealed partial class ChannelFlow
{
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
