namespace Shrink.Search;

/// <summary>
/// Regularized (aging) evolution (Real et al. 2019, "Regularized Evolution for Image Classifier Architecture
/// Search", Algorithm 1): the first <see cref="Population"/> trials are random; then each child is a one-parameter
/// mutation of the winner of a tournament among <see cref="Sample"/> members drawn without replacement from the
/// population, which is the <see cref="Population"/> most recent ranked trials — so the oldest member leaves as
/// each child arrives (aging), whatever its fitness. The tournament ranks by the objective (Deb's rule; with
/// several goals, the sample's first Pareto front, earliest drawn first).
/// </summary>
public sealed class RegularizedEvolution : SearchStrategy
{
    public RegularizedEvolution(SearchSpace space, Objective objective, long seed, int population = 20, int sample = 5) : base(space, seed)
    {
        objective.Validate();
        if (population < 2) throw OptionsException.For(nameof(Population), $"must be at least 2, got {population}");
        if (sample < 1 || sample > population)
            throw OptionsException.For(nameof(Sample), $"must be between 1 and the population ({population}), got {sample}");
        (Objective, Population, Sample) = (objective, population, sample);
    }

    public override string Name => "evolution";

    public Objective Objective { get; }

    /// <summary>P: the number of random trials first, and the size of the population.</summary>
    public int Population { get; }

    /// <summary>S: members drawn for each tournament.</summary>
    public int Sample { get; }

    protected override Dictionary<string, object?> Options() =>
        new() { ["objective"] = Objective.Describe(), ["population"] = Population, ["sample"] = Sample };

    protected override Proposal? Next(IReadOnlyList<Trial> history, int proposedBefore, IReadOnlySet<string> seen, SearchRandom random)
    {
        var population = history.Where(Objective.Ranks).TakeLast(Population).ToList();
        if (history.Count + proposedBefore < Population || population.Count == 0) return RandomUnseen(seen, random);
        var drawn = Draw(population, Math.Min(Sample, population.Count), random);
        return MutantUnseen(Winner(drawn), seen, random, local: false, "mutation");
    }

    private static List<Trial> Draw(List<Trial> population, int count, SearchRandom random)
    {
        var pool = population.ToList();
        var drawn = new List<Trial>(count);
        for (var i = 0; i < count; i++)
        {
            var at = random.NextInt(pool.Count);
            drawn.Add(pool[at]);
            pool.RemoveAt(at);
        }
        return drawn;
    }

    private Trial Winner(List<Trial> drawn)
    {
        if (!Objective.IsScalar) return Pareto.Front(drawn, Objective)[0];
        var best = drawn[0];
        foreach (var t in drawn.Skip(1))
            if (Objective.Compare(t, best) < 0) best = t;
        return best;
    }
}
