using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>Helpers for MAC counts, which are per sample: the first axis is taken as the batch.</summary>
public static class MacCounting
{
    /// <summary>
    /// Elements of a tensor per sample (first axis dropped), or null when a dimension is unknown; a symbolic dimension
    /// named in <paramref name="dims"/> (e.g. <c>sequence</c> → 128) counts at that size.
    /// </summary>
    public static long? PerSampleElements(Shape? shape, IReadOnlyDictionary<string, long>? dims = null)
    {
        if (shape is null) return null;
        if (shape.Rank == 0) return 1;
        long elements = 1;
        foreach (var d in shape.Dims.Skip(1))
            if (Size(d, dims) is { } n) elements *= n;
            else return null;
        return elements;
    }

    /// <summary>The size of <paramref name="d"/>: its value, or the value <paramref name="dims"/> gives its symbol; null when neither.</summary>
    public static long? Size(Dim d, IReadOnlyDictionary<string, long>? dims = null) =>
        d.Value ?? (d.Param is { } name && dims is not null && dims.TryGetValue(name, out var v) ? v : null);
}
