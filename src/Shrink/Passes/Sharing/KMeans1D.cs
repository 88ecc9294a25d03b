namespace Shrink.Passes.Sharing;

/// <summary>How k-means places its first centroids (Han et al. 2016 compare the three).</summary>
public enum CentroidInit
{
    /// <summary>Evenly spaced over [min, max] — the paper's choice: it keeps the few large weights represented.</summary>
    Linear,

    /// <summary>At the (i + ½)/k quantiles of the values: dense where the weights are dense.</summary>
    Density,

    /// <summary>k values drawn from the data (Forgy), seeded.</summary>
    Random,
}

/// <summary>
/// One-dimensional k-means (Lloyd's algorithm) on sorted values: assignments are the intervals between
/// midpoints of the sorted centroids, so each iteration is a pass over the values.
/// </summary>
public static class KMeans1D
{
    /// <summary>Centroids (ascending, at most <paramref name="k"/>, fewer when there are fewer distinct values) of <paramref name="values"/>.</summary>
    public static float[] Fit(ReadOnlySpan<float> values, int k, CentroidInit init = CentroidInit.Linear, int iterations = 50, int seed = 0) =>
        FitInPlace(values.ToArray(), k, init, iterations, seed);

    /// <summary><see cref="Fit"/> on values the caller lends: <paramref name="values"/> is sorted in place (no copy of a big layer's weights).</summary>
    public static float[] FitInPlace(Span<float> values, int k, CentroidInit init = CentroidInit.Linear, int iterations = 50, int seed = 0)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1");
        if (values.Length == 0) return Array.Empty<float>();
        var sorted = values;
        sorted.Sort();
        var distinct = 1;
        for (var i = 1; i < sorted.Length; i++) if (sorted[i] != sorted[i - 1]) distinct++;
        if (distinct <= k) return Distinct(sorted); // every value is its own centroid
        var c = new double[k];
        switch (init)
        {
            case CentroidInit.Linear:
                for (var i = 0; i < k; i++) c[i] = sorted[0] + (sorted[^1] - (double)sorted[0]) * i / (k - 1);
                break;
            case CentroidInit.Density:
                for (var i = 0; i < k; i++) c[i] = sorted[(int)Math.Min(sorted.Length - 1, (i + 0.5) * sorted.Length / k)];
                break;
            default:
                var random = new Random(seed);
                for (var i = 0; i < k; i++) c[i] = sorted[random.Next(sorted.Length)];
                break;
        }
        Array.Sort(c);
        var sums = new double[k];
        var counts = new long[k];
        for (var it = 0; it < iterations; it++)
        {
            Array.Clear(sums);
            Array.Clear(counts);
            var j = 0;
            foreach (var v in sorted)
            {
                while (j < k - 1 && v > (c[j] + c[j + 1]) / 2) j++;
                sums[j] += v;
                counts[j]++;
            }
            var moved = false;
            for (var i = 0; i < k; i++)
            {
                if (counts[i] == 0) continue; // an empty cluster keeps its place
                var m = sums[i] / counts[i];
                moved |= m != c[i];
                c[i] = m;
            }
            Array.Sort(c);
            if (!moved) break;
        }
        return c.Select(x => (float)x).Distinct().OrderBy(x => x).ToArray();
    }

    /// <summary>The distinct values of ascending <paramref name="sorted"/>, in order.</summary>
    private static float[] Distinct(ReadOnlySpan<float> sorted)
    {
        var result = new List<float> { sorted[0] };
        foreach (var v in sorted)
            if (!v.Equals(result[^1])) result.Add(v);  // as Distinct compares: NaN equals NaN, −0 equals +0
        return result.ToArray();
    }

    /// <summary>The index of the nearest of the ascending <paramref name="centroids"/>.</summary>
    public static int Nearest(float[] centroids, float v)
    {
        var i = Array.BinarySearch(centroids, v);
        if (i >= 0) return i;
        i = ~i;
        if (i == 0) return 0;
        if (i == centroids.Length) return centroids.Length - 1;
        return v - centroids[i - 1] <= centroids[i] - v ? i - 1 : i;
    }
}
