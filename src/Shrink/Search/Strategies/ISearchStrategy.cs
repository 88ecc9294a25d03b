namespace Shrink.Search;

/// <summary>
/// A search strategy: asked for <c>count</c> proposals given the history (every trial of the study so far, in
/// number order, pending and running ones included), it returns new ones. Strategies keep no state between calls:
/// what they propose is a function of their settings, their seed and the history, so a resumed search proposes
/// exactly what an uninterrupted one would, and a batch of two equals two batches of one.
/// A proposal's (configuration hash, budget) is never one already in the history; when no new one can be made
/// (a finite space used up) the result says <see cref="Proposals.Exhausted"/> instead of looping.
/// </summary>
public interface ISearchStrategy
{
    /// <summary>A short stable name ("random", "evolution", "annealing", "successive-halving"), also its random stream's.</summary>
    string Name { get; }

    /// <summary>
    /// Canonical JSON of everything the proposals depend on besides the history (name, seed, options, objective):
    /// give it to <see cref="Study.Open"/> (within the caller's settings) so a resume with other settings is refused.
    /// </summary>
    string Settings { get; }

    /// <summary>Up to <paramref name="count"/> new proposals given <paramref name="history"/>.</summary>
    Proposals Propose(IReadOnlyList<Trial> history, int count);
}

/// <summary>
/// What a strategy proposed. <see cref="Exhausted"/>: it could make no more than these from this history (the
/// space is used up, or, for successive halving, nothing is left to promote until running trials finish).
/// </summary>
public sealed record Proposals(IReadOnlyList<Proposal> Items, bool Exhausted);
