namespace Shrink.Search;

/// <summary>
/// Pareto fronts: the fast non-dominated sort of NSGA-II (Deb et al. 2002), under Deb's constrained dominance,
/// so a feasible trial is always on an earlier front than an infeasible one.
/// </summary>
public static class Pareto
{
    /// <summary>The non-dominated trials of <paramref name="trials"/> (ranked ones only), in their given order.</summary>
    public static IReadOnlyList<Trial> Front(IEnumerable<Trial> trials, Objective objective) =>
        Sort(trials, objective).FirstOrDefault() ?? [];

    /// <summary>The ranked trials of <paramref name="trials"/> sorted into fronts: front 0 is dominated by none, front k by trials of earlier fronts only.</summary>
    public static IReadOnlyList<IReadOnlyList<Trial>> Sort(IEnumerable<Trial> trials, Objective objective)
    {
        var ranked = trials.Where(objective.Ranks).ToList();
        return Fronts(ranked.Count, (i, j) => objective.ConstrainedDominates(ranked[i], ranked[j]))
            .Select(f => (IReadOnlyList<Trial>)f.Select(i => ranked[i]).ToList()).ToList();
    }

    /// <summary>Fronts of points given as losses (smaller is better in every coordinate): indices into <paramref name="losses"/>.</summary>
    public static IReadOnlyList<IReadOnlyList<int>> Sort(IReadOnlyList<double[]> losses) =>
        Fronts(losses.Count, (i, j) => Dominates(losses[i], losses[j]));

    /// <summary>True when <paramref name="a"/> is no larger than <paramref name="b"/> everywhere and smaller somewhere.</summary>
    public static bool Dominates(double[] a, double[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException("points of different dimensions", nameof(b));
        var smaller = false;
        for (var k = 0; k < a.Length; k++)
        {
            if (a[k] > b[k]) return false;
            smaller |= a[k] < b[k];
        }
        return smaller;
    }

    private static List<List<int>> Fronts(int n, Func<int, int, bool> dominates)
    {
        var dominatedBy = new int[n];
        var dominating = Enumerable.Range(0, n).Select(_ => new List<int>()).ToArray();
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++)
            {
                if (i == j) continue;
                if (dominates(i, j)) dominating[i].Add(j);
                else if (dominates(j, i)) dominatedBy[i]++;
            }
        var fronts = new List<List<int>>();
        var current = Enumerable.Range(0, n).Where(i => dominatedBy[i] == 0).ToList();
        while (current.Count > 0)
        {
            fronts.Add(current);
            var next = new List<int>();
            foreach (var i in current)
                foreach (var j in dominating[i])
                    if (--dominatedBy[j] == 0) next.Add(j);
            next.Sort();
            current = next;
        }
        return fronts;
    }
}
