using System.Text.Json;
using Shrink.Architecture;
using Shrink.IO;

namespace Shrink.Training.Architecture;

/// <summary>
/// The report of a search run (<c>DIR/report.json</c>, what <c>DIR/report.html</c> shows): every completed trial, the models the
/// run ended with and the reference points, each as its score (accuracy in points, or fidelity) against its latency at each
/// batch size measured, with its parameters and whether it is on the front.
/// </summary>
public sealed record SearchReport(string Space, string Score, IReadOnlyList<int> Batches, IReadOnlyList<SearchReportPoint> Points, LatencyTableSummary? LatencyTable)
{
    public string ToJson() => JsonSerializer.Serialize(this, ArchitectureSearchResult.Json);
}

/// <summary>
/// One point of a <see cref="SearchReport"/>: <see cref="Kind"/> is "trial", "final" (a model the run ended with, trained for the
/// final epochs) or "reference"; <see cref="LatencyMs"/> by batch size; <see cref="Source"/> says how a reference was obtained.
/// </summary>
public sealed record SearchReportPoint(string Kind, string Name, int? Trial, double? Score, IReadOnlyDictionary<int, double> LatencyMs, double? Params,
    double? Macs, bool OnFront, bool Feasible, string? Model, string? Source, string? Summary);

/// <summary>Writes a search's report page and its JSON into the run directory, each atomically (rewritten after every trial and at the end).</summary>
public static class SearchReportPage
{
    public const string JsonFile = "report.json", HtmlFile = "report.html";

    internal static SearchReport Write(ArchitectureSearchResult result, IReadOnlyList<int> batches, bool byFidelity)
    {
        var report = Build(result, batches, byFidelity);
        AtomicFile.WriteAllText(Path.Combine(result.Directory, JsonFile), report.ToJson());
        AtomicFile.WriteAllText(Path.Combine(result.Directory, HtmlFile), SearchReportHtml.Render(result, report));
        return report;
    }

    internal static SearchReport Build(ArchitectureSearchResult result, IReadOnlyList<int> batches, bool byFidelity)
    {
        var score = byFidelity ? ArchitectureMetrics.Fidelity : ArchitectureMetrics.Accuracy;
        var points = new List<SearchReportPoint>();
        foreach (var t in result.Trials.Where(t => t.Status == "completed"))
            points.Add(Point("trial", $"trial {t.Number + 1}", t.Number, t.Metrics, score, batches, result.Pareto.Contains(t.Number), t.Feasible, t.Model, null, t.Summary));
        if (result.FinalEpochs > 0)
            foreach (var f in result.FrontModels.Concat(result.Final).DistinctBy(f => f.Trial))
                points.Add(Point("final", $"trial {f.Trial + 1}, {f.Epochs} epochs", f.Trial, f.Metrics, score, batches, result.Pareto.Contains(f.Trial), true, f.Model, null,
                    result.Trials.First(t => t.Number == f.Trial).Summary));
        foreach (var r in result.References)
            points.Add(Point("reference", r.Name, null, r.Metrics, score, batches, false, true, r.Model, r.Source, null));
        return new SearchReport(result.Space, score, batches, points, result.LatencyTable);
    }

    private static SearchReportPoint Point(string kind, string name, int? trial, IReadOnlyDictionary<string, double> m, string score, IReadOnlyList<int> batches,
        bool front, bool feasible, string? model, string? source, string? summary) =>
        new(kind, name, trial, m.TryGetValue(score, out var s) ? s : null,
            batches.Where(b => m.ContainsKey(ArchitectureMetrics.LatencyAt(b))).ToDictionary(b => b, b => m[ArchitectureMetrics.LatencyAt(b)]),
            m.TryGetValue(ArchitectureMetrics.Params, out var p) ? p : null, m.TryGetValue(ArchitectureMetrics.Macs, out var macs) ? macs : null,
            front, feasible, model, source, summary);
}
