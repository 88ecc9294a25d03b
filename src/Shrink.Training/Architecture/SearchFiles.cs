using System.Text.Json;
using Shrink.IO;
using Shrink.Search;

namespace Shrink.Training.Architecture;

/// <summary>
/// The files of a search run directory that are true at every moment, each replaced atomically (written beside, then renamed)
/// after every finished trial: <c>result.json</c> (<see cref="ArchitectureSearchResult"/>), <c>pareto.json</c> (the trials of
/// the first front with their metrics and models) and the report page (<see cref="SearchReportPage"/>).
/// </summary>
internal sealed class SearchFiles(SearchRun run)
{
    public const string ResultFile = "result.json", ParetoFile = "pareto.json";

    public ArchitectureSearchResult Update(IReadOnlyList<Trial> trials, string stop = "running", SearchEnd? end = null)
    {
        var objective = run.Objective;
        var shown = trials.Select(t => ArchitectureTrial.Of(t, objective, run.Space)).ToList();
        var ranked = FullBudget(trials);
        var front = Pareto.Front(ranked, objective).Select(t => t.Number).Order().ToList();
        var result = new ArchitectureSearchResult
        {
            Space = run.Space.Source, Directory = run.Directory, Strategy = run.Options.Strategy,
            Objectives = objective.Goals.Select(g => $"{g.Metric} ({g.Direction.ToString().ToLowerInvariant()})").ToList(),
            Constraints = objective.Constraints.Select(c => ArchitectureSearch.Invariant($"{c.Metric} {(c.Bound == Bound.AtMost ? "≤" : "≥")} {c.Limit:G}")).ToList(),
            Machine = run.Machine, Training = run.Options.DescribeTraining(), Trials = shown, Pareto = front, Best = BestPerGoal(ranked, objective), Final = end?.Best ?? [], FrontModels = end?.Front ?? [], FinalEpochs = run.Options.FinalEpochs, References = end?.References ?? [], Stop = stop,
            Report = Path.Combine(run.Directory, SearchReportPage.HtmlFile),
            LatencyTable = run.Table is null ? null : LatencyTableSummary.Of(run, trials),
        };
        AtomicFile.WriteAllText(Path.Combine(run.Directory, ParetoFile), JsonSerializer.Serialize(shown.Where(t => front.Contains(t.Number)).ToList(), ArchitectureSearchResult.Json));
        AtomicFile.WriteAllText(Path.Combine(run.Directory, ResultFile), result.ToJson());
        SearchReportPage.Write(result, run.Options.LatencyBatches, run.ByFidelity);
        return result;
    }

    /// <summary>
    /// The trials at the largest budget any completed trial reached (all of them, but with successive halving the top rung's
    /// so far): candidates trained for fewer epochs are not ranked against those trained for more.
    /// </summary>
    public static IReadOnlyList<Trial> FullBudget(IReadOnlyList<Trial> trials)
    {
        var top = trials.Where(t => t.Status == TrialStatus.Completed).Select(t => t.Budget).DefaultIfEmpty(1).Max();
        return trials.Where(t => t.Budget >= top - 1e-12).ToList();
    }

    /// <summary>The best trial of each goal alone, under the same constraints (Deb's rule: the closest when none is feasible).</summary>
    public static Dictionary<string, int> BestPerGoal(IReadOnlyList<Trial> trials, Objective objective)
    {
        var best = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var goal in objective.Goals)
            if (new Objective([goal], objective.Constraints).Best(trials) is { } t) best[goal.Metric] = t.Number;
        return best;
    }
}

/// <summary>What the end of a run adds to its result: the best model of each goal, the front's models, the reference points.</summary>
internal sealed record SearchEnd(IReadOnlyList<FinalModel> Best, IReadOnlyList<FinalModel> Front, IReadOnlyList<ReferencePoint> References);
