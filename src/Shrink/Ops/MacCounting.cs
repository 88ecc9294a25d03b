using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>Helpers for MAC counts, which are per sample: the first axis is taken as the batch.</summary>
public static class MacCounting
{
    /// <summary>Elements of a tensor per sample (first axis dropped), or null when a dimension is unknown.</summary>
    public static long? PerSampleElements(Shape? shape)
    {
        if (shape is null) return null;
        if (shape.Rank == 0) return 1;
        var rest = shape.Dims.Skip(1).ToArray();
        return rest.All(d => d.IsKnown) ? rest.Aggregate(1L, (a, d) => a * d.Value!.Value) : null;
    }
}
