namespace Shrink.Search;

/// <summary>
/// Simulated annealing (Kirkpatrick et al. 1983) over a scalar objective: the chain's state is replayed from the
/// ranked trials in number order — the first is the current state; each later one, the k-th, replaces it when
/// better, or when worse by Δ (in the goal's units, or in total constraint violation between infeasible states)
/// with probability exp(−Δ/T_k), T_k = <see cref="Temperature"/>·<see cref="Cooling"/>^k, drawn from the trial's
/// own random stream. An infeasible trial never replaces a feasible state. Each proposal is a neighbour of the
/// current state: one parameter moved a step or two (a tenth of a float range).
/// </summary>
public sealed class SimulatedAnnealing : SearchStrategy
{
    public SimulatedAnnealing(SearchSpace space, Objective objective, long seed, double temperature = 1.0, double cooling = 0.95) : base(space, seed)
    {
        objective.Validate();
        if (!objective.IsScalar)
            throw OptionsException.For(nameof(Objective.Goals), $"hold {objective.Goals.Count} goals; simulated annealing needs one");
        if (!(temperature > 0) || !double.IsFinite(temperature))
            throw OptionsException.For(nameof(Temperature), $"must be a number above 0, got {temperature}");
        if (!(cooling > 0 && cooling <= 1)) throw OptionsException.For(nameof(Cooling), $"must be in (0, 1], got {cooling}");
        (Objective, Temperature, Cooling) = (objective, temperature, cooling);
    }

    public override string Name => "annealing";

    public Objective Objective { get; }

    /// <summary>T_0, in the goal's units.</summary>
    public double Temperature { get; }

    /// <summary>The factor the temperature is multiplied by after each ranked trial.</summary>
    public double Cooling { get; }

    /// <summary>The chain's current state after <paramref name="history"/>, or null before any trial is ranked.</summary>
    public Trial? Current(IReadOnlyList<Trial> history)
    {
        Trial? current = null;
        var k = 0;
        foreach (var t in history.Where(Objective.Ranks))
        {
            if (current is null || Accepts(current, t, Temperature * Math.Pow(Cooling, k))) current = t;
            k++;
        }
        return current;
    }

    protected override Dictionary<string, object?> Options() =>
        new() { ["objective"] = Objective.Describe(), ["temperature"] = Temperature, ["cooling"] = Cooling };

    protected override Proposal? Next(IReadOnlyList<Trial> history, int proposedBefore, IReadOnlySet<string> seen, SearchRandom random)
    {
        var current = Current(history);
        return current is null ? RandomUnseen(seen, random) : MutantUnseen(current, seen, random, local: true, "neighbour");
    }

    private bool Accepts(Trial current, Trial candidate, double temperature)
    {
        var (vc, vn) = (Objective.Violation(current), Objective.Violation(candidate));
        if (vc == 0 && vn > 0) return false;
        var delta = vc > 0 || vn > 0 ? vn - vc : Objective.Loss(candidate) - Objective.Loss(current);
        if (delta <= 0) return true;
        var u = SearchRandom.For(Seed, "annealing-accept", candidate.Number).NextDouble();
        return u < Math.Exp(-delta / temperature);
    }
}
