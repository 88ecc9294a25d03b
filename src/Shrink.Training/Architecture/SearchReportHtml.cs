using System.Globalization;
using System.Text;
using Shrink.Training.Optimization;
using static Shrink.Training.Optimization.HtmlPage;

namespace Shrink.Training.Architecture;

/// <summary>
/// The report page of a search (<see cref="HtmlPage"/>: self-contained, every string escaped): the run in one paragraph, the
/// score against latency at each batch size (<see cref="SvgChart"/>: the trials, the front joined, the models trained afresh
/// ringed, each reference point a cross of its own colour), the results table, the reference points with how each was
/// obtained, and the latency table's agreement with measurement. Its check wants every image decoded and the results table.
/// </summary>
internal static class SearchReportHtml
{
    private const string Other = "#adb5bd", FrontColor = "#1c7ed6", Infeasible = "#c92a2a", Final = "#f08c00";
    private static readonly string[] Palette = ["#2b8a3e", "#862e9c", "#e8590c", "#0b7285", "#5f3dc4", "#a61e4d"];
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(ArchitectureSearchResult r, SearchReport report)
    {
        var h = Start($"shrink search: {Path.GetFileName(r.Space)}", "results");
        h.Append("<h1>").Append(E($"Architecture search of {Path.GetFileName(r.Space)}")).Append("</h1>\n<p>")
            .Append(E($"{r.Trials.Count} trials ({Stop(r.Stop)}), strategy {r.Strategy.ToString().ToLowerInvariant()}; goals {string.Join(", ", r.Objectives)}"
                + (r.Constraints.Count > 0 ? $"; constraints {string.Join(", ", r.Constraints)}" : "") + $". Space: {r.Space}. Run directory: {r.Directory}."))
            .Append("</p>\n<p>").Append(E($"Training: {r.Training}. ")).Append(E($"Latency: ONNX Runtime, median of interleaved runs, {r.Machine.Threads} thread(s) on {r.Machine.Cpu} ({r.Machine.Cores} cores)."))
            .Append("</p>\n");
        h.Append("<h2>").Append(E(report.Score == Shrink.Architecture.ArchitectureMetrics.Fidelity ? "Fidelity against latency" : "Accuracy against latency")).Append("</h2>\n");
        foreach (var batch in report.Batches)
            Image(h, Chart(report, batch), $"{Label(report.Score)} against latency at batch {batch}", batch == report.Batches[0] ? "No trial completed yet." : "");
        h.Append("<p class=\"note\">").Append(E("Grey: trials; blue, joined: the Pareto front of the goals; red crosses: outside a constraint"
            + (r.FinalEpochs > 0 ? $"; orange rings: the front and the best of each goal trained afresh for {r.FinalEpochs} epochs" : "")
            + "; coloured crosses: the reference points.")).Append("</p>\n");
        Results(h, r, report);
        References(h, r);
        Agreement(h, r);
        return h.Append("</body></html>\n").ToString();
    }

    private static string? Chart(SearchReport report, int batch)
    {
        var points = report.Points.Where(p => p.Score is not null && p.LatencyMs.ContainsKey(batch)).ToList();
        if (points.Count == 0) return null;
        (double, double) P(SearchReportPoint p) => (p.LatencyMs[batch], p.Score!.Value);
        var trials = points.Where(p => p.Kind == "trial").ToList();
        var chart = new SvgChart($"{Label(report.Score)} against p50 latency at batch {batch}", $"ONNX Runtime p50 latency at batch {batch} (ms)", Label(report.Score))
            .Add("trials", Other, trials.Where(p => !p.OnFront && p.Feasible).Select(P))
            .Add("outside a constraint", Infeasible, trials.Where(p => !p.Feasible).Select(P), Marker.Cross, size: 4)
            .Add("Pareto front", FrontColor, trials.Where(p => p.OnFront).OrderBy(p => p.LatencyMs[batch]).Select(P), line: true)
            .Add("trained afresh", Final, points.Where(p => p.Kind == "final").Select(P), Marker.Ring, size: 9);
        var references = points.Where(p => p.Kind == "reference").ToList();
        for (var i = 0; i < references.Count; i++)
            chart.Add(references[i].Name, Palette[i % Palette.Length], [P(references[i])], Marker.Cross, size: 7);
        return chart.Render();
    }

    private static void Results(StringBuilder h, ArchitectureSearchResult r, SearchReport report)
    {
        h.Append("<h2>Results</h2>\n<table id=\"results\"><thead><tr><th>model</th><th>").Append(E(Label(report.Score))).Append("</th>");
        foreach (var b in report.Batches) h.Append("<th>").Append(E($"p50 ms at batch {b}")).Append("</th>");
        h.Append("<th>parameters</th><th>MACs</th><th>on the front</th><th>architecture or source</th><th>file</th></tr></thead><tbody>\n");
        var best = r.Best.GroupBy(kv => kv.Value).ToDictionary(g => g.Key, g => string.Join(", ", g.Select(kv => kv.Key)));
        foreach (var p in report.Points.OrderBy(p => p.Kind == "reference").ThenByDescending(p => p.Score ?? double.MinValue))
        {
            var name = p.Trial is { } n && best.TryGetValue(n, out var goals) && p.Kind == "trial" ? $"{p.Name} (best {goals})" : p.Name;
            h.Append(p.OnFront ? "<tr class=\"chosen\">" : "<tr>").Append("<td>").Append(E(p.Kind == "reference" ? $"{name} (reference)" : name)).Append("</td><td>")
                .Append(E(Score(p.Score, report.Score))).Append("</td>");
            foreach (var b in report.Batches) h.Append("<td>").Append(p.LatencyMs.TryGetValue(b, out var ms) ? Ms(ms) : "–").Append("</td>");
            h.Append("<td>").Append(p.Params is { } n2 ? n2.ToString("N0", Inv) : "–").Append("</td><td>").Append(p.Macs is { } m ? m.ToString("N0", Inv) : "–")
                .Append("</td><td>").Append(p.OnFront ? "yes" : "").Append("</td><td>").Append(E(p.Source ?? p.Summary ?? "")).Append("</td><td>").Append(E(p.Model ?? "")).Append("</td></tr>\n");
        }
        h.Append("</tbody></table>\n");
    }

    private static void References(StringBuilder h, ArchitectureSearchResult r)
    {
        h.Append("<h2>Reference points</h2>\n");
        if (r.References.Count == 0)
        {
            h.Append("<p>").Append(E(r.Stop == "running" ? "The reference points are evaluated at the end of the run." : "The run was given no reference points.")).Append("</p>\n");
            return;
        }
        h.Append("<table id=\"references\"><thead><tr><th>reference</th><th>how it was obtained</th><th>file</th></tr></thead><tbody>\n");
        foreach (var p in r.References)
            h.Append("<tr><td>").Append(E(p.Name)).Append("</td><td>").Append(E(p.Source)).Append("</td><td>").Append(E(p.Model)).Append("</td></tr>\n");
        h.Append("</tbody></table>\n");
    }

    private static void Agreement(StringBuilder h, ArchitectureSearchResult r)
    {
        if (r.LatencyTable is not { } t) return;
        h.Append("<h2>Latency table</h2>\n<p>").Append(E($"{t.Blocks} blocks timed alone on this machine, in {t.File}; a candidate's latency was predicted from its blocks before it was built"
            + (t.Mode == LatencyMode.TableOnly ? " and used in place of a measurement." : "."))).Append("</p>\n");
        if (t.Agreement.Count == 0 && t.Uncalibrated.Count == 0) return;
        h.Append("<table id=\"agreement\"><thead><tr><th>batch</th><th>predictor</th><th>trials measured</th><th>predicted within ±10 %</th><th>Kendall τ of the rankings</th></tr></thead><tbody>\n");
        foreach (var (name, list) in new[] { ("calibrated (trials predicted after the calibration)", t.Agreement), ("the table's sum alone (every trial)", t.Uncalibrated) })
            foreach (var a in list)
                h.Append("<tr><td>").Append(a.Batch).Append("</td><td>").Append(E(name)).Append("</td><td>").Append(a.Trials).Append("</td><td>").Append((a.WithinTenPercent * 100).ToString("F0", Inv)).Append(" %</td><td>")
                    .Append(a.KendallTau is { } tau ? tau.ToString("F2", Inv) : "–").Append("</td></tr>\n");
        h.Append("</tbody></table>\n");
        if (t.Calibration.Count > 0)
            h.Append("<p>").Append(E($"Calibration fitted on {t.Calibration[0].Trials.Count} measured trials: " + string.Join(", ", t.Calibration.Select(k =>
                string.Create(Inv, $"batch {k.Batch}: {k.Scale:G3} × the table's sum {(k.OffsetMs < 0 ? "−" : "+")} {Math.Abs(k.OffsetMs):G3} ms"))) + ".")).Append("</p>\n");
    }

    private static string Label(string score) => score == Shrink.Architecture.ArchitectureMetrics.Fidelity ? "fidelity (top-1 agreement with the teacher)" : "test accuracy (%)";
    private static string Score(double? v, string score) => v is not { } x ? "–" : x.ToString(score == Shrink.Architecture.ArchitectureMetrics.Fidelity ? "F4" : "F2", Inv);
    private static string Ms(double ms) => ms.ToString(ms < 10 ? "F3" : "F2", Inv);

    private static string Stop(string stop) => stop switch
    {
        "running" => "the run had not ended when this page was written; it is rewritten after every trial and at the end",
        "exhausted" => "every configuration of the space tried",
        "trial-limit" => "ended at its number of trials",
        _ => "interrupted; continue it with --resume",
    };
}
