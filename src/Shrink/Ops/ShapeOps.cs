using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>Data-movement ops: Reshape, Flatten, Transpose, Concat, Split, Slice, Squeeze, Unsqueeze, Gather, Shape, Constant, Expand, Range.</summary>
internal static class ShapeOps
{
    public static void Register(Action<OpSchema> add)
    {
        add(new OpSchema("Reshape", InferReshape, 2, 2) { Channels = ChannelFlowKind.Reshape, Quantization = QuantizationRole.SameScale });
        add(new OpSchema("Flatten", InferFlatten) { Channels = ChannelFlowKind.Flatten, Quantization = QuantizationRole.SameScale });
        add(new OpSchema("Transpose", InferTranspose) { Channels = ChannelFlowKind.Transpose, Quantization = QuantizationRole.SameScale });
        add(new OpSchema("Concat", InferConcat, 1, int.MaxValue) { Channels = ChannelFlowKind.Concat, Quantization = QuantizationRole.Requantizing });
        add(new OpSchema("Shape", InferShape) { Channels = ChannelFlowKind.ShapeOnly });
        add(new OpSchema("Size", c => c.SetOutput(0, DataType.Int64, Shape.Of())));
        add(new OpSchema("Constant", InferConstant, 0, 0));
        add(new OpSchema("Gather", GatherInference.Infer, 2, 2));
        add(new OpSchema("Unsqueeze", c => SqueezeInference.Infer(c, unsqueeze: true), 1, 2) { Quantization = QuantizationRole.SameScale });
        add(new OpSchema("Squeeze", c => SqueezeInference.Infer(c, unsqueeze: false), 1, 2) { Quantization = QuantizationRole.SameScale });
        add(new OpSchema("Split", SliceInference.InferSplit, 1, 2) { Channels = ChannelFlowKind.Split });
        add(new OpSchema("Slice", SliceInference.InferSlice, 1, 5) { Channels = ChannelFlowKind.Slice });
        add(new OpSchema("Expand", c => c.SetOutput(0, c.InputType(0), ExpandShape(c)), 2, 2));
        add(new OpSchema("ConstantOfShape", InferConstantOfShape));
        add(new OpSchema("Range", InferRange, 3, 3));
    }

    /// <summary>Range: 1-D, of max(⌈(limit − start) / delta⌉, 0) elements when the three are known.</summary>
    private static void InferRange(InferenceContext c)
    {
        var (start, limit, delta) = (c.IntValues(0), c.IntValues(1), c.IntValues(2));
        var length = start is [var s] && limit is [var l] && delta is [var d and not 0] ? Dim.Of(Math.Max((long)Math.Ceiling((double)(l - s) / d), 0)) : Dim.Unknown;
        c.SetOutput(0, c.InputType(0), new Shape(new[] { length }));
    }

    private static void InferReshape(InferenceContext c)
    {
        var target = c.ShapeValue(1);
        var x = c.InputShape(0);
        if (target is null) { c.SetOutput(0, c.InputType(0), c.InputShape(1) is { Rank: 1 } s && s[0].IsKnown ? new Shape(Enumerable.Repeat(Dim.Unknown, (int)s[0].Value!)) : null); return; }
        var allowZero = c.Int("allowzero", 0) != 0;
        if (ReshapeProblem(target, x, allowZero) is { } problem)
        {
            c.Problem($"bad Reshape target at node '{c.Node.DisplayName}': {problem}");
            c.PassThroughRankless();
            return;
        }
        var dims = target.Select((d, i) => d.Value == 0 && !allowZero && x is not null && i < x.Rank ? x[i] : d).ToArray();
        var minus = Array.FindIndex(dims, d => d.Value == -1);
        if (minus >= 0) dims[minus] = InferMinusOne(x, dims, minus);
        c.SetOutput(0, c.InputType(0), new Shape(dims));
        if (c.ShapeValue(0) is { } v) c.SetShapeValue(0, v);
    }

    /// <summary>Why a Reshape target is invalid (ONNX's rules: at most one −1; a 0 copies an input dimension that must exist), or null.</summary>
    private static string? ReshapeProblem(Dim[] target, Shape? x, bool allowZero)
    {
        var shown = $"[{string.Join(",", target.Select(d => d.Value?.ToString() ?? "?"))}]";
        if (target.Count(d => d.Value == -1) > 1) return $"{shown} has more than one -1";
        if (target.Any(d => d.Value < -1)) return $"{shown} has a negative size other than -1";
        if (!allowZero && x is not null && target.Select((d, i) => (d, i)).Any(t => t.d.Value == 0 && t.i >= x.Rank))
            return $"{shown} copies (0) a dimension the input of rank {x.Rank} does not have";
        return null;
    }

    /// <summary>The −1 entry of a Reshape target: input elements divided by the other entries.</summary>
    private static Dim InferMinusOne(Shape? x, Dim[] dims, int minus)
    {
        if (x is null) return Dim.Unknown;
        var others = dims.Where((_, i) => i != minus).ToList();
        var input = x.Dims.ToList();
        foreach (var d in others.Where(d => !d.IsKnown && d.Param is not null).ToList())
            if (input.Remove(d)) others.Remove(d);  // the same symbol on both sides cancels
        if (!input.All(d => d.IsKnown) || !others.All(d => d.IsKnown)) return Dim.Unknown;
        var divisor = others.Aggregate(1L, (a, d) => a * d.Value!.Value);
        return divisor == 0 ? Dim.Unknown : Dim.Of(input.Aggregate(1L, (a, d) => a * d.Value!.Value) / divisor);
    }

    private static void InferFlatten(InferenceContext c)
    {
        var x = c.InputShape(0);
        if (x is null) { c.PassThroughRankless(); return; }
        if (c.CheckedAxis(c.Int("axis", 1), x.Rank, endAllowed: true) is not { } axis) { c.PassThroughRankless(); return; }
        c.SetOutput(0, c.InputType(0), new Shape(new[] { Product(x.Dims.Take(axis)), Product(x.Dims.Skip(axis)) }));
    }

    internal static Dim Product(IEnumerable<Dim> dims)
    {
        var list = dims.ToList();
        if (list.Count == 1) return list[0];
        return list.All(d => d.IsKnown) ? Dim.Of(list.Aggregate(1L, (a, d) => a * d.Value!.Value)) : Dim.Unknown;
    }

    private static void InferTranspose(InferenceContext c)
    {
        var x = c.InputShape(0);
        if (x is null) { c.PassThroughRankless(); return; }
        var perm = c.Ints("perm") ?? Enumerable.Range(0, x.Rank).Reverse().Select(i => (long)i).ToArray();
        if (perm.Length != x.Rank || perm.Any(p => p < 0 || p >= x.Rank))
        {
            c.Problem($"bad attribute at node '{c.Node.DisplayName}' (Transpose): perm [{string.Join(",", perm)}] does not fit rank {x.Rank}");
            c.PassThroughRankless();
            return;
        }
        c.SetOutput(0, c.InputType(0), new Shape(perm.Select(p => x[(int)p])));
    }

    private static void InferConcat(InferenceContext c)
    {
        var shapes = Enumerable.Range(0, c.InputCount).Select(c.InputShape).ToList();
        for (var i = 1; i < c.InputCount; i++) c.RequireSameType(0, i);
        if (shapes.Any(s => s is null)) { c.PassThroughRankless(); return; }
        var rank = shapes[0]!.Rank;
        var axis = InferenceContext.Axis(c.Int("axis", 0), rank);
        if (shapes.Any(s => s!.Rank != rank) || axis < 0 || axis >= rank)
        {
            c.Problem($"rank mismatch at node '{c.Node.DisplayName}' (Concat): inputs {string.Join(", ", shapes)} on axis {c.Int("axis", 0)}");
            c.PassThroughRankless();
            return;
        }
        var dims = shapes[0]!.Dims.ToArray();
        var along = shapes.Select(s => s![axis]).ToList();
        dims[axis] = along.All(d => d.IsKnown) ? Dim.Of(along.Sum(d => d.Value!.Value)) : Dim.Unknown;
        c.SetOutput(0, c.InputType(0), new Shape(dims));
        var values = Enumerable.Range(0, c.InputCount).Select(c.ShapeValue).ToList();
        if (rank == 1 && values.All(v => v is not null)) c.SetShapeValue(0, values.SelectMany(v => v!).ToArray());
    }

    private static void InferShape(InferenceContext c)
    {
        var x = c.InputShape(0);
        if (x is null) { c.SetOutput(0, DataType.Int64, new Shape(new[] { Dim.Unknown })); return; }
        var start = (int)Math.Clamp(InferenceContext.Axis(c.Int("start", 0), x.Rank), 0, x.Rank);
        var end = (int)Math.Clamp(InferenceContext.Axis(c.Int("end", x.Rank), x.Rank), 0, x.Rank);
        var dims = x.Dims.Skip(start).Take(Math.Max(0, end - start)).ToArray();
        c.SetOutput(0, DataType.Int64, Shape.Of(dims.Length));
        c.SetShapeValue(0, dims);
    }

    private static void InferConstant(InferenceContext c)
    {
        if (c.Node.GetTensor("value") is { } t) { c.SetOutput(0, t.DataType, t.Shape); return; }
        if (c.Node.GetFloat("value_float", float.NaN) is var f && !float.IsNaN(f)) { c.SetOutput(0, DataType.Float, Shape.Of()); return; }
        if (c.Node.GetAttribute("value_int") is not null) { c.SetOutput(0, DataType.Int64, Shape.Of()); return; }
        if (c.Node.GetFloats("value_floats") is { } fs) { c.SetOutput(0, DataType.Float, Shape.Of(fs.Length)); return; }
        if (c.Node.GetInts("value_ints") is { } ints) { c.SetOutput(0, DataType.Int64, Shape.Of(ints.Length)); c.SetShapeValue(0, ints.Select(Dim.Of).ToArray()); return; }
        c.SetOutput(0, DataType.Undefined, null);
    }

    private static Shape? ExpandShape(InferenceContext c)
    {
        var x = c.InputShape(0);
        // A target computed at run time still has a known length: the rank, and the input's dims other than 1, are known.
        var target = c.ShapeValue(1) ?? (c.InputShape(1) is { Rank: 1 } s && s[0].Value is { } n ? Enumerable.Repeat(Dim.Unknown, (int)n).ToArray() : null);
        if (target is null || x is null) return null;
        var rank = Math.Max(target.Length, x.Rank);
        return new Shape(Enumerable.Range(0, rank).Select(i =>
        {
            var a = i - (rank - x.Rank) >= 0 ? x[i - (rank - x.Rank)] : Dim.Of(1);
            var b = i - (rank - target.Length) >= 0 ? target[i - (rank - target.Length)] : Dim.Of(1);
            return b.Value == 1 || !b.IsKnown && a.Value is > 1 ? a : b;
        }));
    }

    private static void InferConstantOfShape(InferenceContext c)
    {
        var type = c.Node.GetTensor("value")?.DataType ?? DataType.Float;
        c.SetOutput(0, type, c.ShapeValue(0) is { } d ? new Shape(d) : null);
    }
}
