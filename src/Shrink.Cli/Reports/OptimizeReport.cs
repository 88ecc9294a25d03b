using System.Globalization;
using Shrink.Training.Optimization;

namespace Shrink.Cli.Reports;

/// <summary>
/// The rendering of <c>shrink optimize</c>: one line per trial on stderr (on a terminal, the running trial shown on a line
/// rewritten in place), then the original against the chosen model, its final re-evaluation and the verdict on stdout.
/// </summary>
internal sealed class OptimizeReport(CliContext cli, bool terminal)
{
    /// <summary>A trial started (a live line on a terminal only) or finished (a line).</summary>
    public void Progress(OptimizeProgress e)
    {
        var of = e.Trials is { } n ? $"/{n}" : "";
        if (!e.Finished)
        {
            if (terminal) cli.Err.Write($"\r\x1b[Ktrial {e.Trial + 1}{of} running: {e.Summary} | {Best(e)} | {Left(e)}");
            return;
        }
        var line = $"trial {e.Trial + 1}{of} {e.Status}: {e.Summary} | {(e.Error is { } error ? error : Metrics(e.Metrics))} | {Best(e)} | {Left(e)}";
        cli.Err.WriteLine(terminal ? $"\r\x1b[K{line}" : line);
    }

    /// <summary>The end of the run: before/after, the final re-evaluation, and whether the budget is met (or by how much it misses).</summary>
    public void Result(OptimizeResult r)
    {
        var o = cli.Out;
        o.WriteLine($"optimize {r.Model}: goal {r.Goal.ToString().ToLowerInvariant()}, budget {r.Budget}; {r.Trials.Count} trials ({r.Stop})");
        if (r.Budgets is { } budgets)
            o.WriteLine($"  successive halving over {string.Join(", ", budgets.Select(Share))} of the training and test samples: {r.Trials.Count(t => t.Budget >= 1)} trials at the full budget, only they can be chosen");
        if (r.Best is not { } best)
        {
            o.WriteLine($"no trial completed; their errors are in {Path.Combine(r.Directory, "result.json")} and {ReportPage.HtmlFile}");
            return;
        }
        var b = r.Baseline;
        o.WriteLine($"  original:   {Format.Bytes(b.Bytes)}, {Accuracy(b.Accuracy)}, {Latencies(b.LatencyMs)}");
        o.WriteLine($"  trial {best.Number + 1}: {Format.Bytes((long)best.Metrics[TrialMetrics.Bytes])} ({b.Bytes / best.Metrics[TrialMetrics.Bytes]:F1}× smaller), {Latencies(best.Metrics)}");
        o.WriteLine($"    {best.Summary}{OutputFidelity(best.Metrics)}");
        if (r.Final is { } f)
            o.WriteLine(f.Fidelity is { } fid ? $"  final re-evaluation on {f.Samples} samples: fidelity {fid.Format("F4")} (95 % interval)"
                : $"  final re-evaluation on {f.Samples} samples: accuracy {f.Accuracy!.Format()} %, drop {f.Drop!.Format()} points (95 % intervals)");
        if (r.Parts is { } parts)
            o.WriteLine(parts.Error is { } e ? $"  not split: {e}; best.onnx is whole"
                : $"  split for deployment: {parts.Description}; parts and manifest.json in {parts.Directory} (run them with shrink run {Path.Combine(parts.Directory!, "manifest.json")})");
        o.WriteLine($"  report: {Path.Combine(r.Directory, ReportPage.HtmlFile)} (its data in {ReportPage.JsonFile})");
        o.WriteLine(r.Met ? $"meets the budget; wrote {Path.Combine(r.Directory, "best.onnx")} and best.recipe.yaml"
            : $"misses the budget: {string.Join("; ", r.MissReasons)}{(r.Miss > 0 ? $" (by {r.Miss.Value.ToString("G3", CultureInfo.InvariantCulture)} {(r.MinFidelity is null ? "points" : "of fidelity")})" : "")}; the closest attempt is kept in {Path.Combine(r.Directory, "best.onnx")} (exit code 3)");
    }

    /// <summary>What <c>shrink report</c> wrote: the page and its data, and what the run holds.</summary>
    public static string Written(RunReport r) =>
        $"wrote {Path.Combine(r.Directory, ReportPage.HtmlFile)} and {ReportPage.JsonFile}: {r.Trials.Count} trials, "
        + (r.Chosen is { } c ? $"chosen trial {c} ({(r.Met ? "meets the budget" : "misses the budget")})" : "no trial completed") + $", {r.Rejected.Count} rejected";

    private static string Metrics(IReadOnlyDictionary<string, double> m)
    {
        var size = m.TryGetValue(TrialMetrics.Bytes, out var bytes) ? Format.Bytes((long)bytes) : "?";
        var accuracy = m.TryGetValue(TrialMetrics.Drop, out var drop)
            ? $"drop {drop:F2} [{m[TrialMetrics.DropLow]:F2}, {m[TrialMetrics.DropHigh]:F2}] pts"
            : m.TryGetValue(TrialMetrics.Fidelity, out var f) ? $"fidelity {f:F4} [{m[TrialMetrics.FidelityLow]:F4}, {m[TrialMetrics.FidelityHigh]:F4}]" : "";
        var latency = m.TryGetValue(TrialMetrics.Latency, out var ms) ? $", {Format.Ms(ms)} ms ({m[TrialMetrics.Speedup]:F2}×)" : "";
        return $"{size}, {accuracy}{latency}{OutputFidelity(m)}";
    }

    /// <summary>The output fidelity check of a trial that merges or converts to half precision: ", outputs vs original: cosine 1.0000, SQNR 62.1 dB, max |error| 0.0012".</summary>
    internal static string OutputFidelity(IReadOnlyDictionary<string, double> m) => !m.TryGetValue(TrialMetrics.OutputCosine, out var cosine) ? ""
        : string.Create(CultureInfo.InvariantCulture, $", outputs vs original: cosine {cosine:F4}, SQNR {(m.TryGetValue(TrialMetrics.OutputSqnr, out var db) ? $"{db:F1} dB" : "∞ (equal)")}, max |error| {m[TrialMetrics.OutputMaxError]:G3}");

    private static string Best(OptimizeProgress e) => e.Best is not { } b ? "best: none yet"
        : $"best: trial {b.Number + 1}, {Format.Bytes((long)b.Metrics.GetValueOrDefault(TrialMetrics.Bytes))}{(e.BestMet ? "" : $", misses by {e.BestMiss:G3}")}";

    private static string Left(OptimizeProgress e) => e.Left is { } left ? $"{left:hh\\:mm\\:ss} left" : $"{e.Elapsed:hh\\:mm\\:ss} elapsed";

    private static string Share(double budget) => budget >= 1 ? "all" : $"1/{Math.Round(1 / budget).ToString(CultureInfo.InvariantCulture)}";

    private static string Accuracy(double? points) => points is { } a ? $"accuracy {a:F2} %" : "fidelity budget (accuracy not measured)";

    private static string Latencies(IReadOnlyDictionary<string, double> m) =>
        string.Join(", ", m.Where(kv => kv.Key.StartsWith("latency_ms_b", StringComparison.Ordinal)).Select(kv => $"{Format.Ms(kv.Value)} ms at batch {kv.Key["latency_ms_b".Length..]}"));
}
