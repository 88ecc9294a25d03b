namespace Shrink.Search;

/// <summary>
/// The common part of the strategies that make configurations: one proposal at a time, each from its own random
/// stream (seed, <see cref="Name"/>, trial number), never one whose hash is in the history or the batch. A
/// configuration is never proposed twice whatever its trial's status: a failed one would fail again, and one
/// interrupted by a dead run is retried in place by the store, not proposed anew.
/// </summary>
public abstract class SearchStrategy : ISearchStrategy
{
    /// <summary>Random draws tried before a finite space is enumerated to find an unseen configuration.</summary>
    private const int Draws = 64;

    /// <summary>A finite space up to this size is enumerated when random draws keep hitting seen configurations.</summary>
    public const double EnumerationLimit = 100_000;

    protected SearchStrategy(SearchSpace space, long seed)
    {
        Space = space ?? throw new ArgumentNullException(nameof(space));
        Seed = seed;
    }

    public abstract string Name { get; }

    public string Settings
    {
        get
        {
            var settings = Options();
            settings["strategy"] = Name;
            settings["seed"] = Seed;
            return CanonicalJson.Of(settings);
        }
    }

    /// <summary>The strategy's options for <see cref="Settings"/> (name and seed are added).</summary>
    protected virtual Dictionary<string, object?> Options() => [];

    /// <summary>The space proposals are drawn from.</summary>
    public SearchSpace Space { get; }

    /// <summary>The seed of every random stream.</summary>
    public long Seed { get; }

    public Proposals Propose(IReadOnlyList<Trial> history, int count)
    {
        ArgumentNullException.ThrowIfNull(history);
        var seen = new HashSet<string>(history.Select(t => t.Hash), StringComparer.Ordinal);
        var batch = new List<Proposal>();
        for (var i = 0; i < count; i++)
        {
            var next = Next(history, batch.Count, seen, SearchRandom.For(Seed, Name, history.Count + i));
            if (next is null) return new(batch, true);
            seen.Add(next.Configuration.Hash);
            batch.Add(next);
        }
        return new(batch, false);
    }

    /// <summary>
    /// One proposal for trial number <c>history.Count + proposedBefore</c>, whose hash is not in
    /// <paramref name="seen"/>, or null when none can be made.
    /// </summary>
    protected abstract Proposal? Next(IReadOnlyList<Trial> history, int proposedBefore, IReadOnlySet<string> seen, SearchRandom random);

    /// <summary>A random configuration not in <paramref name="seen"/>; a small finite space is enumerated when draws keep failing.</summary>
    protected Proposal? RandomUnseen(IReadOnlySet<string> seen, SearchRandom random)
    {
        for (var i = 0; i < Draws; i++)
        {
            var c = Space.Sample(random);
            if (!seen.Contains(c.Hash)) return new Proposal(c, Origin: "random");
        }
        if (Space.Size > EnumerationLimit) return null;
        var left = Space.Enumerate().Where(c => !seen.Contains(c.Hash)).ToList();
        return left.Count == 0 ? null : new Proposal(left[random.NextInt(left.Count)], Origin: "enumeration");
    }

    /// <summary>
    /// <paramref name="parent"/> with one parameter changed (<see cref="Mutation.One"/>), not in <paramref name="seen"/>;
    /// after a few tries, a random unseen configuration.
    /// </summary>
    protected Proposal? MutantUnseen(Trial parent, IReadOnlySet<string> seen, SearchRandom random, bool local, string origin)
    {
        for (var i = 0; i < 32; i++)
        {
            var c = Mutation.One(Space, parent.Configuration, random, local);
            if (c is null) break;
            if (!seen.Contains(c.Hash)) return new Proposal(c, Origin: origin, Parent: parent.Number);
        }
        return RandomUnseen(seen, random);
    }
}

/// <summary>Random search: every proposal drawn uniformly, parameter by parameter (Bergstra and Bengio 2012).</summary>
public sealed class RandomSearch(SearchSpace space, long seed) : SearchStrategy(space, seed)
{
    public override string Name => "random";

    protected override Proposal? Next(IReadOnlyList<Trial> history, int proposedBefore, IReadOnlySet<string> seen, SearchRandom random) =>
        RandomUnseen(seen, random);
}
