using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>Gather: output = data.shape[:axis] + indices.shape + data.shape[axis+1:]; propagates shape values.</summary>
internal static class GatherInference
{
    public static void Infer(InferenceContext c)
    {
        var (data, idx) = (c.InputShape(0), c.InputShape(1));
        if (data is null || idx is null) { c.PassThroughRankless(); return; }
        if (c.CheckedAxis(c.Int("axis", 0), data.Rank) is not { } axis) { c.PassThroughRankless(); return; }
        c.SetOutput(0, c.InputType(0), new Shape(data.Dims.Take(axis).Concat(idx.Dims).Concat(data.Dims.Skip(axis + 1))));
        if (data.Rank == 1 && c.ShapeValue(0) is { } values && c.IntValues(1) is { } indices)
            c.SetShapeValue(0, indices.Select(i => i < 0 ? i + values.Length : i).Select(i => i >= 0 && i < values.Length ? values[i] : Dim.Unknown).ToArray());
    }
}

/// <summary>Squeeze and Unsqueeze; axes from the attribute (opset &lt; 13) or the second input.</summary>
internal static class SqueezeInference
{
    public static void Infer(InferenceContext c, bool unsqueeze)
    {
        var x = c.InputShape(0);
        var axes = c.Ints("axes") ?? (c.HasInput(1) ? c.IntValues(1) : null);
        if (x is null || (axes is null && unsqueeze)) { c.PassThroughRankless(); return; }
        var shape = unsqueeze ? Unsqueeze(x, axes!) : Squeeze(x, axes);
        c.SetOutput(0, c.InputType(0), shape);
        if (c.ShapeValue(0) is { } v && v.Length <= 1) c.SetShapeValue(0, v);
    }

    private static Shape Unsqueeze(Shape x, long[] axes)
    {
        var rank = x.Rank + axes.Length;
        var inserted = axes.Select(a => InferenceContext.Axis(a, rank)).ToHashSet();
        var src = 0;
        return new Shape(Enumerable.Range(0, rank).Select(i => inserted.Contains(i) ? Dim.Of(1) : x[src++]));
    }

    private static Shape Squeeze(Shape x, long[]? axes)
    {
        var drop = axes?.Select(a => InferenceContext.Axis(a, x.Rank)).ToHashSet()
                   ?? Enumerable.Range(0, x.Rank).Where(i => x[i].Value == 1).ToHashSet();
        return new Shape(x.Dims.Where((_, i) => !drop.Contains(i)));
    }
}

/// <summary>Split and Slice.</summary>
internal static class SliceInference
{
    public static void InferSplit(InferenceContext c)
    {
        var x = c.InputShape(0);
        var n = c.Node.Outputs.Count;
        if (x is null) { for (var i = 0; i < n; i++) c.SetOutput(i, c.InputType(0), null); return; }
        var axis = InferenceContext.Axis(c.Int("axis", 0), x.Rank);
        var sizes = c.Ints("split") ?? (c.HasInput(1) ? c.IntValues(1) : null);
        if (sizes is null && x[axis].IsKnown)
        {
            var chunk = (x[axis].Value!.Value + n - 1) / n;
            sizes = Enumerable.Range(0, n).Select(i => Math.Min(chunk, x[axis].Value!.Value - i * chunk)).ToArray();
        }
        for (var i = 0; i < n; i++)
        {
            var dims = x.Dims.ToArray();
            dims[axis] = sizes is not null && i < sizes.Length ? Dim.Of(sizes[i]) : Dim.Unknown;
            c.SetOutput(i, c.InputType(0), new Shape(dims));
        }
    }

    public static void InferSlice(InferenceContext c)
    {
        var x = c.InputShape(0);
        if (x is null) { c.PassThroughRankless(); return; }
        var (starts, ends) = c.Opset < 10 ? (c.Ints("starts"), c.Ints("ends")) : (c.IntValues(1), c.IntValues(2));
        var axes = c.Opset < 10 ? c.Ints("axes") : c.HasInput(3) ? c.IntValues(3) : null;
        var steps = c.HasInput(4) ? c.IntValues(4) : null;
        if (starts is null || ends is null || (c.HasInput(3) && axes is null) || (c.HasInput(4) && steps is null))
        {
            c.SetOutput(0, c.InputType(0), new Shape(Enumerable.Repeat(Dim.Unknown, x.Rank)));
            return;
        }
        var dims = x.Dims.ToArray();
        for (var i = 0; i < starts.Length; i++)
        {
            var axis = InferenceContext.Axis(axes?[i] ?? i, x.Rank);
            dims[axis] = x[axis].IsKnown ? Dim.Of(Length(x[axis].Value!.Value, starts[i], ends[i], steps?[i] ?? 1)) : Dim.Unknown;
        }
        c.SetOutput(0, c.InputType(0), new Shape(dims));
        if (x.Rank == 1 && c.ShapeValue(0) is { } v && (steps?[0] ?? 1) == 1)
            c.SetShapeValue(0, v.Skip((int)Clamp(starts[0], v.Length, 1)).Take((int)Length(v.Length, starts[0], ends[0], 1)).ToArray());
    }

    /// <summary>Elements in [start, end) with a step, after ONNX's clamping of negative and out-of-range bounds.</summary>
    internal static long Length(long dim, long start, long end, long step)
    {
        if (step == 0) return 0;
        var s = Clamp(start, dim, step);
        var e = Clamp(end, dim, step);
        return Math.Max(0, step > 0 ? (e - s + step - 1) / step : (s - e - step - 1) / -step);
    }

    private static long Clamp(long v, long dim, long step)
    {
        if (v < 0) v += dim;
        return step > 0 ? Math.Clamp(v, 0, dim) : Math.Clamp(v, -1, dim - 1);
    }
}
