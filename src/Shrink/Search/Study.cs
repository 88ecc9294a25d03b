using System.Text.Json.Nodes;
using Shrink.Text;

namespace Shrink.Search;

/// <summary>
/// A named search in a trial store: its space, its settings (the caller's JSON: strategy, seed, objective — what a
/// resume must share) and its trials. <see cref="Open"/> creates it, or with resume continues it after checking
/// that the space and settings are the ones it was made with.
/// </summary>
public sealed class Study
{
    private Study(ITrialStore store, StudyInfo info, SearchSpace space) => (Store, Info, Space) = (store, info, space);

    public ITrialStore Store { get; }

    public StudyInfo Info { get; }

    public SearchSpace Space { get; }

    public string Name => Info.Name;

    /// <summary>
    /// The study <paramref name="name"/> of <paramref name="store"/>: created when <paramref name="resume"/> is false
    /// (refused when it exists), continued when true (refused when it is missing or was made with another space or
    /// other settings). Messages name <see cref="SearchRunOptions.Resume"/>. <paramref name="job"/> (a <see cref="TrialJob"/>'s
    /// JSON) is what workers on other machines need to evaluate its trials; a resume publishes it anew.
    /// </summary>
    public static Study Open(ITrialStore store, string name, SearchSpace space, string settings = "{}", bool resume = false, string? job = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(space);
        var canonical = CanonicalJson.Of(CanonicalJson.Parse(settings));
        var resumeOption = OptionName.Of(nameof(SearchRunOptions.Resume));
        var existing = store.FindStudy(name);
        if (existing is null && resume)
            throw new OptionsException(OptionText.Of($"there is no search '{name}' to continue here; start it without {resumeOption}"));
        if (existing is null) return new(store, store.CreateStudy(name, space, canonical, job), space);
        if (!resume)
            throw new OptionsException(OptionText.Of($"search '{name}' was started here already; continue it with {resumeOption}, or start afresh elsewhere"));
        if (existing.SpaceHash != space.Hash)
            throw new OptionsException(OptionText.Of($"search '{name}' was started with another search space; continue it with the same one, or start afresh elsewhere without {resumeOption}"));
        if (existing.Settings != canonical && !BeforeKeys(existing.Settings, canonical))
            throw new OptionsException(OptionText.Of($"search '{name}' was started with other settings ({existing.Settings}); continue it with the same ones, or start afresh elsewhere without {resumeOption}"));
        return new(store, existing.Job == job ? existing : store.SetJob(existing, job), space);
    }

    /// <summary>
    /// True when <paramref name="was"/> is <paramref name="now"/> without the strategies' <c>key</c> (the
    /// <see cref="ConfigurationKey"/> they deduplicate by, named in the settings since strategies have had one): a study made
    /// before is continued with the key its caller gives now, the same space and every other setting unchanged.
    /// </summary>
    private static bool BeforeKeys(string was, string now)
    {
        var current = JsonNode.Parse(now);
        if (!StripKeys(current)) return false;
        return CanonicalJson.Of(current) == was;
    }

    /// <summary>Removes <c>key</c> from every strategy's settings in <paramref name="node"/> (an inner strategy's too); true when one was removed.</summary>
    private static bool StripKeys(JsonNode? node)
    {
        if (node is not JsonObject o) return false;
        var removed = o.ContainsKey("strategy") && o.Remove("key");
        foreach (var (_, child) in o.ToList()) removed |= StripKeys(child);
        return removed;
    }

    /// <summary>Every trial so far, in number order.</summary>
    public IReadOnlyList<Trial> Trials() => Store.List(Info);

    /// <summary>
    /// Writes <paramref name="configuration"/> (checked against the space) as a pending trial at
    /// <paramref name="budget"/> — a starting point the caller knows, run before any proposal — or returns the trial
    /// that has it already.
    /// </summary>
    public Trial Enqueue(Configuration configuration, double budget = 1.0)
    {
        var checkedConfiguration = Space.Check(configuration);
        return Store.Find(Info, checkedConfiguration.Hash, budget)
            ?? Store.Add(Info, [new Proposal(checkedConfiguration, budget, "enqueued")])[0];
    }
}
