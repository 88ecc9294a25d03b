namespace Shrink.Search;

/// <summary>
/// Successive halving over evaluation budgets, in its asynchronous form (ASHA: Li et al. 2020, after Jamieson and
/// Talwalkar 2016): rung k evaluates at budget r_k = <see cref="MinBudget"/>·η^k (the last rung at
/// <see cref="MaxBudget"/>); whenever a rung has n ranked trials, its best ⌊n/η⌋ are promoted — the same
/// configuration proposed again at the next rung's budget (origin "promotion", parent the promoted trial) —
/// before <see cref="Inner"/> is asked for new configurations at r_0. Promotions go top rung first, best first.
/// <see cref="Inner"/> sees only the rung-0 trials, so it deduplicates and learns at one budget. The budget is a
/// share of the full evaluation (epochs, validation samples) the objective function reads from its trial.
/// </summary>
public sealed class SuccessiveHalving : ISearchStrategy
{
    private const double Tolerance = 1e-12;

    public SuccessiveHalving(ISearchStrategy inner, Objective objective, double minBudget, double maxBudget = 1.0, double eta = 3)
    {
        objective.Validate();
        if (!(minBudget > 0) || !(minBudget <= maxBudget))
            throw OptionsException.For(nameof(MinBudget), $"must be above 0 and at most the max budget ({maxBudget}), got {minBudget}");
        if (!(maxBudget <= 1)) throw OptionsException.For(nameof(MaxBudget), $"must be at most 1 (the full evaluation), got {maxBudget}");
        if (!(eta >= 2) || !double.IsFinite(eta)) throw OptionsException.For(nameof(Eta), $"must be at least 2, got {eta}");
        (Inner, Objective, MinBudget, MaxBudget, Eta) = (inner ?? throw new ArgumentNullException(nameof(inner)), objective, minBudget, maxBudget, eta);
        Rungs = MakeRungs(minBudget, maxBudget, eta);
    }

    public string Name => "successive-halving";

    /// <summary>The strategy that proposes new configurations at the first rung.</summary>
    public ISearchStrategy Inner { get; }

    public Objective Objective { get; }

    public double MinBudget { get; }

    public double MaxBudget { get; }

    /// <summary>η: a rung keeps its best 1/η.</summary>
    public double Eta { get; }

    /// <summary>The budgets of the rungs, smallest first; the last is <see cref="MaxBudget"/>.</summary>
    public IReadOnlyList<double> Rungs { get; }

    public string Settings => CanonicalJson.Of(new Dictionary<string, object?>
    {
        ["strategy"] = Name, ["inner"] = CanonicalJson.Parse(Inner.Settings),
        ["objective"] = Objective.Describe(), ["min_budget"] = MinBudget, ["max_budget"] = MaxBudget, ["eta"] = Eta,
    });

    public Proposals Propose(IReadOnlyList<Trial> history, int count)
    {
        ArgumentNullException.ThrowIfNull(history);
        var items = Promotions(history).Take(count).ToList();
        if (items.Count == count) return new(items, false);
        var rung0 = history.Where(t => Rung(t) == 0).ToList();
        var fresh = Inner.Propose(rung0, count - items.Count);
        items.AddRange(fresh.Items.Select(p => p with { Budget = Rungs[0] }));
        return new(items, fresh.Exhausted);
    }

    /// <summary>The rung of <paramref name="trial"/>'s budget, or −1 when it is on none.</summary>
    public int Rung(Trial trial)
    {
        for (var k = 0; k < Rungs.Count; k++)
            if (Math.Abs(Rungs[k] - trial.Budget) <= Tolerance) return k;
        return -1;
    }

    private IEnumerable<Proposal> Promotions(IReadOnlyList<Trial> history)
    {
        for (var k = Rungs.Count - 2; k >= 0; k--)
        {
            var above = new HashSet<string>(history.Where(t => Rung(t) == k + 1).Select(t => t.Hash), StringComparer.Ordinal);
            var ranked = Best(history.Where(t => Rung(t) == k && Objective.Ranks(t)).ToList());
            var keep = (int)Math.Floor(ranked.Count / Eta + Tolerance);
            foreach (var t in ranked.Take(keep).Where(t => !above.Contains(t.Hash)))
                yield return new Proposal(t.Configuration, Rungs[k + 1], "promotion", t.Number);
        }
    }

    private List<Trial> Best(List<Trial> ranked)
    {
        if (Objective.IsScalar)
            return ranked.OrderBy(Objective.Violation).ThenBy(t => Objective.Loss(t)).ThenBy(t => t.Number).ToList();
        return Pareto.Sort(ranked, Objective).SelectMany(front => front.OrderBy(t => t.Number)).ToList();
    }

    private static List<double> MakeRungs(double min, double max, double eta)
    {
        var rungs = new List<double>();
        for (var r = min; r < max * (1 - 1e-9); r *= eta) rungs.Add(r);
        rungs.Add(max);
        return rungs;
    }
}
