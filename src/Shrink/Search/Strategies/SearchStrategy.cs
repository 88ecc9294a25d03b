namespace Shrink.Search;

/// <summary>
/// The common part of the strategies that make configurations: one proposal at a time, each from its own random
/// stream (seed, <see cref="Name"/>, trial number), never one whose hash (or, with a <see cref="Key"/>, whose key) is
/// in the history or the batch. A configuration is never proposed twice whatever its trial's status: a failed one
/// would fail again, and one interrupted by a dead run is retried in place by the store, not proposed anew.
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
            if (Key is { } key) settings["key"] = key.Name;
            return CanonicalJson.Of(settings);
        }
    }

    /// <summary>The strategy's options for <see cref="Settings"/> (name and seed are added).</summary>
    protected virtual Dictionary<string, object?> Options() => [];

    /// <summary>The space proposals are drawn from.</summary>
    public SearchSpace Space { get; }

    /// <summary>The seed of every random stream.</summary>
    public long Seed { get; }

    /// <summary>
    /// What makes two configurations one trial (null: their hashes). Configurations of one key are proposed once, and
    /// one whose key is null is never proposed (the caller's words for "changes nothing": the unchanged model).
    /// </summary>
    public ConfigurationKey? Key { get; init; }

    /// <summary>The key <paramref name="c"/> is deduplicated by: <see cref="Key"/>'s, else its hash; null: never proposed.</summary>
    protected string? KeyOf(Configuration c) => Key is { } key ? key.Of(c) : c.Hash;

    /// <summary>True when <paramref name="c"/> may be proposed: its key is not null and not in <paramref name="seen"/>.</summary>
    protected bool IsNew(Configuration c, IReadOnlySet<string> seen) => KeyOf(c) is { } k && !seen.Contains(k);

    public Proposals Propose(IReadOnlyList<Trial> history, int count)
    {
        ArgumentNullException.ThrowIfNull(history);
        var seen = new HashSet<string>(history.Select(t => KeyOf(t.Configuration) ?? t.Hash), StringComparer.Ordinal);
        var batch = new List<Proposal>();
        for (var i = 0; i < count; i++)
        {
            var next = Next(history, batch.Count, seen, SearchRandom.For(Seed, Name, history.Count + i));
            if (next is null) return new(batch, true);
            seen.Add(KeyOf(next.Configuration)!);
            batch.Add(next);
        }
        return new(batch, false);
    }

    /// <summary>
    /// One proposal for trial number <c>history.Count + proposedBefore</c>, new by <see cref="IsNew"/>, or null when
    /// none can be made.
    /// </summary>
    protected abstract Proposal? Next(IReadOnlyList<Trial> history, int proposedBefore, IReadOnlySet<string> seen, SearchRandom random);

    /// <summary>A random configuration not in <paramref name="seen"/>; a small finite space is enumerated when draws keep failing.</summary>
    protected Proposal? RandomUnseen(IReadOnlySet<string> seen, SearchRandom random)
    {
        for (var i = 0; i < Draws; i++)
        {
            var c = Space.Sample(random);
            if (IsNew(c, seen)) return new Proposal(c, Origin: "random");
        }
        if (Space.Size > EnumerationLimit) return null;
        var left = Space.Enumerate().Where(c => IsNew(c, seen)).DistinctBy(KeyOf).ToList();
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
            if (IsNew(c, seen)) return new Proposal(c, Origin: origin, Parent: parent.Number);
        }
        return RandomUnseen(seen, random);
    }
}

/// <summary>
/// What makes two configurations one trial for a <see cref="SearchStrategy"/>: <paramref name="Of"/> maps a configuration
/// to its key (equal keys: the same trial, e.g. two configurations that build the same model), or to null for one never
/// to propose. <paramref name="Name"/> enters the strategy's settings, so a resume with another key is refused.
/// </summary>
public sealed record ConfigurationKey(string Name, Func<Configuration, string?> Of);

/// <summary>Random search: every proposal drawn uniformly, parameter by parameter (Bergstra and Bengio 2012).</summary>
public sealed class RandomSearch(SearchSpace space, long seed) : SearchStrategy(space, seed)
{
    public override string Name => "random";

    protected override Proposal? Next(IReadOnlyList<Trial> history, int proposedBefore, IReadOnlySet<string> seen, SearchRandom random) =>
        RandomUnseen(seen, random);
}
