using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>Reductions (ReduceMean, ReduceSum, ...) and ArgMax/ArgMin; axes from the attribute or, at newer opsets, an input.</summary>
internal static class ReduceOps
{
    private static readonly string[] Reductions =
        { "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp" };

    public static void Register(Action<OpSchema> add)
    {
        foreach (var op in Reductions)
            add(new OpSchema(op, Infer, 1, 2) { Channels = ChannelFlowKind.Reduce, KeepsZero = op is "ReduceMean" or "ReduceMax" or "ReduceSum" ? _ => true : null });
        add(new OpSchema("ArgMax", c => InferArg(c)));
        add(new OpSchema("ArgMin", c => InferArg(c)));
    }

    private static void Infer(InferenceContext c)
    {
        var x = c.InputShape(0);
        if (x is null) { c.PassThroughRankless(); return; }
        var keep = c.Int("keepdims", 1) != 0;
        var axes = c.Ints("axes") ?? (c.HasInput(1) ? c.IntValues(1) : null);
        if (axes is null && c.HasInput(1)) { c.SetOutput(0, c.InputType(0), keep ? new Shape(Enumerable.Repeat(Dim.Unknown, x.Rank)) : null); return; }
        if (axes is not null && axes.Any(a => c.CheckedAxis(a, x.Rank, "axes entry") is null)) { c.PassThroughRankless(); return; }
        var noop = c.Int("noop_with_empty_axes", 0) != 0;
        var reduced = axes is null || axes.Length == 0
            ? (noop ? new HashSet<int>() : Enumerable.Range(0, x.Rank).ToHashSet())
            : axes.Select(a => InferenceContext.Axis(a, x.Rank)).ToHashSet();
        c.SetOutput(0, c.InputType(0), Reduce(x, reduced, keep));
    }

    private static void InferArg(InferenceContext c)
    {
        var x = c.InputShape(0);
        if (x is null) { c.SetOutput(0, DataType.Int64, null); return; }
        var axis = InferenceContext.Axis(c.Int("axis", 0), x.Rank);
        c.SetOutput(0, DataType.Int64, Reduce(x, new HashSet<int> { axis }, c.Int("keepdims", 1) != 0));
    }

    private static Shape Reduce(Shape x, HashSet<int> axes, bool keep) =>
        new(x.Dims.Select((d, i) => (d, i)).Where(t => keep || !axes.Contains(t.i)).Select(t => axes.Contains(t.i) ? Dim.Of(1) : t.d));
}
