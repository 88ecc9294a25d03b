using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>NumPy-style multidirectional broadcasting of shapes, as ONNX defines it.</summary>
internal static class Broadcast
{
    /// <summary>The broadcast shape, or null when a rank is unknown; a problem is reported when dims clash.</summary>
    public static Shape? Shapes(InferenceContext ctx, IEnumerable<int> inputs)
    {
        var shapes = inputs.Where(ctx.HasInput).Select(ctx.InputShape).ToList();
        if (shapes.Any(s => s is null)) return null;
        var rank = shapes.Max(s => s!.Rank);
        var dims = new Dim[rank];
        for (var k = 0; k < rank; k++)
        {
            Dim result = Dim.Of(1);
            foreach (var s in shapes)
            {
                var off = k - (rank - s!.Rank);
                if (off < 0) continue;
                result = Combine(result, s[off], ctx, k);
            }
            dims[k] = result;
        }
        return new Shape(dims);
    }

    private static Dim Combine(Dim a, Dim b, InferenceContext ctx, int axis)
    {
        if (a.Value == 1) return b;
        if (b.Value == 1) return a;
        if (a.IsKnown && b.IsKnown)
        {
            if (a.Value != b.Value)
                ctx.Problem($"shape mismatch at node '{ctx.Node.DisplayName}' ({ctx.Node.OpType}): dimensions {a.Value} and {b.Value} cannot broadcast on axis {axis}");
            return a;
        }
        if (a.IsKnown) return a;
        if (b.IsKnown) return b;
        return a.Param is not null && a.Param == b.Param ? a : a.Param is not null ? a : b;
    }
}
