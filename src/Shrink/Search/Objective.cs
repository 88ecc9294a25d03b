namespace Shrink.Search;

/// <summary>Whether a goal's metric is better small or large.</summary>
public enum Direction { Minimize, Maximize }

/// <summary>One metric to optimize.</summary>
public sealed record Goal(string Metric, Direction Direction);

/// <summary>Which side of its limit a constraint's metric must stay.</summary>
public enum Bound { AtMost, AtLeast }

/// <summary>A metric that must stay within <see cref="Limit"/> for a trial to be feasible ("accuracy_drop" at most 0.5).</summary>
public sealed record Constraint(string Metric, Bound Bound, double Limit)
{
    /// <summary>How far <paramref name="metrics"/> are outside the limit (0 within; +∞ when the metric is missing).</summary>
    public double Violation(IReadOnlyDictionary<string, double> metrics) =>
        !metrics.TryGetValue(Metric, out var v) || double.IsNaN(v) ? double.PositiveInfinity
        : Bound == Bound.AtMost ? Math.Max(0, v - Limit) : Math.Max(0, Limit - v);
}

/// <summary>
/// What a search optimizes: one goal (a scalar, minimized or maximized) or several (a Pareto front), under
/// constraints. Trials compare by Deb's rule (Deb 2000): a feasible trial beats an infeasible one; two infeasible
/// ones compare by total violation; two feasible ones by the goal (one goal) or by Pareto dominance (several).
/// Only completed trials with every goal's metric are ranked; the rest are never better than them.
/// </summary>
public sealed record Objective(IReadOnlyList<Goal> Goals, IReadOnlyList<Constraint> Constraints)
{
    /// <summary>Minimize <paramref name="metric"/> under <paramref name="constraints"/>.</summary>
    public static Objective Minimize(string metric, params Constraint[] constraints) => new([new Goal(metric, Direction.Minimize)], constraints);

    /// <summary>Maximize <paramref name="metric"/> under <paramref name="constraints"/>.</summary>
    public static Objective Maximize(string metric, params Constraint[] constraints) => new([new Goal(metric, Direction.Maximize)], constraints);

    /// <summary>The objective as JSON-able data (for a strategy's settings).</summary>
    public Dictionary<string, object?> Describe() => new()
    {
        ["goals"] = Goals.Select(g => new Dictionary<string, object?> { ["metric"] = g.Metric, ["direction"] = g.Direction.ToString().ToLowerInvariant() }).ToList(),
        ["constraints"] = Constraints.Select(c => new Dictionary<string, object?>
            { ["metric"] = c.Metric, ["bound"] = c.Bound == Bound.AtMost ? "at-most" : "at-least", ["limit"] = c.Limit }).ToList(),
    };

    /// <summary>True with one goal (a scalar objective).</summary>
    public bool IsScalar => Goals.Count == 1;

    /// <summary>Throws <see cref="OptionsException"/> when a goal or constraint is malformed.</summary>
    public void Validate()
    {
        if (Goals.Count == 0) throw OptionsException.For(nameof(Goals), "is empty; give at least one metric to optimize");
        foreach (var g in Goals.Where(g => string.IsNullOrWhiteSpace(g.Metric)))
            throw OptionsException.For(nameof(Goals), "name an empty metric; give each goal a metric name");
        if (Goals.Select(g => g.Metric).Distinct(StringComparer.Ordinal).Count() != Goals.Count)
            throw OptionsException.For(nameof(Goals), "name a metric twice; give each metric once");
        foreach (var c in Constraints.Where(c => !double.IsFinite(c.Limit) || string.IsNullOrWhiteSpace(c.Metric)))
            throw OptionsException.For(nameof(Constraints), $"hold '{c.Metric}' with limit {c.Limit}; give a metric name and a finite limit");
    }

    /// <summary>True when <paramref name="trial"/> is completed with every goal's metric (a number), so it can be ranked.</summary>
    public bool Ranks(Trial trial) =>
        trial.Status == TrialStatus.Completed && Goals.All(g => trial.Metrics.TryGetValue(g.Metric, out var v) && double.IsFinite(v));

    /// <summary>The total constraint violation of <paramref name="trial"/> (0: feasible).</summary>
    public double Violation(Trial trial) => Constraints.Sum(c => c.Violation(trial.Metrics));

    /// <summary>True when <paramref name="trial"/> is ranked and meets every constraint.</summary>
    public bool IsFeasible(Trial trial) => Ranks(trial) && Violation(trial) == 0;

    /// <summary>The goal's value turned to a loss (smaller is better): the metric, negated when maximized.</summary>
    public double Loss(Trial trial, int goal = 0) =>
        Goals[goal].Direction == Direction.Minimize ? trial.Metrics[Goals[goal].Metric] : -trial.Metrics[Goals[goal].Metric];

    /// <summary>
    /// Negative when <paramref name="a"/> is better than <paramref name="b"/>, positive when worse, 0 when neither
    /// (equal, or with several goals neither dominates).
    /// </summary>
    public int Compare(Trial a, Trial b)
    {
        var (ra, rb) = (Ranks(a), Ranks(b));
        if (!ra || !rb) return ra == rb ? 0 : ra ? -1 : 1;
        var (va, vb) = (Violation(a), Violation(b));
        if (va > 0 || vb > 0) return va.CompareTo(vb);
        if (IsScalar) return Loss(a).CompareTo(Loss(b));
        return Dominates(a, b) ? -1 : Dominates(b, a) ? 1 : 0;
    }

    /// <summary>True when <paramref name="a"/> is no worse than <paramref name="b"/> in every goal and better in one (both ranked and feasible).</summary>
    public bool Dominates(Trial a, Trial b)
    {
        var better = false;
        for (var g = 0; g < Goals.Count; g++)
        {
            var (la, lb) = (Loss(a, g), Loss(b, g));
            if (la > lb) return false;
            better |= la < lb;
        }
        return better;
    }

    /// <summary>
    /// True when <paramref name="a"/> beats <paramref name="b"/> under Deb's rule: feasible over infeasible, less
    /// violation among infeasible, dominance among feasible (both ranked).
    /// </summary>
    public bool ConstrainedDominates(Trial a, Trial b)
    {
        var (va, vb) = (Violation(a), Violation(b));
        if (va == 0 && vb == 0) return IsScalar ? Loss(a) < Loss(b) : Dominates(a, b);
        return va < vb;
    }

    /// <summary>
    /// The best of <paramref name="trials"/> (feasible first; earliest on a tie), or null when none is ranked. With
    /// several goals: the earliest trial of the Pareto front.
    /// </summary>
    public Trial? Best(IEnumerable<Trial> trials)
    {
        var ranked = trials.Where(Ranks).ToList();
        if (!IsScalar) return Pareto.Front(ranked, this).MinBy(t => t.Number);
        return ranked.OrderBy(Violation).ThenBy(t => Loss(t)).ThenBy(t => t.Number).FirstOrDefault();
    }
}
