using System.Globalization;
using System.Text;

namespace Shrink.Training.Optimization;

/// <summary>
/// The report page: one self-contained HTML file (<see cref="HtmlPage"/>: inline CSS, plots as base64 SVG images, no external
/// address), every string from the model, the data or the trials HTML-escaped. The page's check (what the headless-browser
/// test reads) wants every image decoded and the before/after table present.
/// </summary>
internal static class ReportHtml
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(RunReport r, ReportImages images)
    {
        var h = HtmlPage.Start($"shrink optimize: {Path.GetFileName(r.Model)}", "before-after");
        Summary(h, r);
        BeforeAfter(h, r);
        Trials(h, r, images);
        Fronts(h, r, images);
        Layers(h, r, images);
        Training(h, r, images);
        Rejected(h, r);
        h.Append("</body></html>\n");
        return h.ToString();
    }

    private static void Summary(StringBuilder h, RunReport r)
    {
        h.Append("<h1>").Append(E($"Automatic compression of {Path.GetFileName(r.Model)}")).Append("</h1>\n<p>")
            .Append(E($"Goal: {Goal(r.Goal)}. Budget: {r.Budget}. {r.Trials.Count} trials; {Stop(r.Stop)}. Model: {r.Model}. Run directory: {r.Directory}."))
            .Append("</p>\n");
        var verdict = r.Chosen is null ? "No trial completed yet, so there is no model to show; the table of rejected trials says why."
            : r.Met ? $"Trial {r.Chosen} meets the budget and is the chosen model ({Path.Combine(r.Directory, RunFiles.BestModel)})."
            : $"No trial meets the budget. The closest attempt, trial {r.Chosen}, is kept in {Path.Combine(r.Directory, RunFiles.BestModel)}; it misses"
              + (r.Miss is { } miss ? string.Format(Inv, " by {0:G3} {1}", miss, r.Original.Fidelity is not null ? "of fidelity" : "points") : "")
              + (r.MissReasons.Count > 0 ? $": {string.Join("; ", r.MissReasons)}." : ".");
        h.Append("<p class=\"").Append(r.Met ? "met" : "miss").Append("\">").Append(E(verdict)).Append("</p>\n");
        if (r.FinalSamples is { } n)
        {
            var text = r.FinalFidelity is { } f ? $"fidelity {f.Format("F4")}"
                : $"accuracy {r.FinalAccuracy?.Format() ?? "?"} %, a drop of {r.FinalDrop?.Format() ?? "?"} points";
            h.Append("<p>").Append(E($"Final re-evaluation of the chosen model on {n} test samples: {text} (estimate [95 % bootstrap interval])."))
                .Append("</p>\n");
        }
        if (r.Parts is { } parts)
            h.Append("<p>").Append(E(parts.Error is { } e ? $"Not split for deployment: {e}; the chosen model is whole."
                : $"Split for deployment: {parts.Description}; the parts and their manifest are in {parts.Directory} (shrink run {Path.Combine(parts.Directory!, "manifest.json")} runs them one after another).")).Append("</p>\n");
        if (r.Recipe is { } recipe)
            h.Append("<p>Rebuild the chosen model from the original, bit for bit: <code>").Append(E($"shrink recipe run {recipe}")).Append("</code></p>\n");
    }

    private static void BeforeAfter(StringBuilder h, RunReport r)
    {
        h.Append("<h2>Before and after</h2>\n<table id=\"before-after\"><thead><tr><th></th><th>original</th><th>")
            .Append(r.Chosen is { } c ? $"chosen (trial {c})" : "chosen").Append("</th><th>change</th></tr></thead><tbody>\n");
        var (o, n) = (r.Original, r.Result);
        Row(h, "parameters", N(o.Parameters), n is null ? "–" : N(n.Parameters), Ratio(o.Parameters, n?.Parameters));
        Row(h, "non-zero parameters", N(o.NonZero), n is null ? "–" : N(n.NonZero), Ratio(o.NonZero, n?.NonZero));
        Row(h, "file bytes", Bytes(o.Bytes), n is null ? "–" : Bytes(n.Bytes), Ratio(o.Bytes, n?.Bytes, "smaller"));
        Row(h, "size (the size goal's bytes)", Bytes(o.PackedBytes), n is null ? "–" : Bytes(n.PackedBytes), Ratio(o.PackedBytes, n?.PackedBytes, "smaller"));
        Row(h, "MACs per sample", Macs(o.Macs), n is null ? "–" : Macs(n.Macs), o.Macs is { } m ? Ratio(m, n?.Macs) : "");
        if (o.Accuracy is { } a)
            Row(h, "test accuracy (%)", a.ToString("F2", Inv), n?.AccuracyInterval?.Format() ?? n?.Accuracy?.ToString("F2", Inv) ?? "–",
                n?.Accuracy is { } b ? (b - a).ToString("+0.00;-0.00;0.00", Inv) + " points" : "");
        if (n?.FidelityInterval is { } f) Row(h, "fidelity (top-1 agreement with the original)", "1", f.Format("F4"), "");
        if (r.ChosenOutputs is { } check)
            Row(h, "outputs against the original (worst output)", "–",
                string.Create(Inv, $"cosine {check.Cosine:F4}, SQNR {(check.SqnrDb is { } db ? $"{db:F1} dB" : "∞ (equal)")}, max |error| {check.MaxAbsError:G3}"), "");
        foreach (var (batch, ms) in o.LatencyMs)
        {
            double? after = n is not null && n.LatencyMs.TryGetValue(batch, out var v) ? v : null;
            Row(h, $"ONNX Runtime p50 latency at batch {batch} (ms)", Ms(ms), after is { } x ? Ms(x) : "–", after is { } y && y > 0 ? (ms / y).ToString("F2", Inv) + "× as fast" : "");
        }
        h.Append("</tbody></table>\n<p class=\"note\">Size: a clustered model's .shrink container; otherwise the parameters at their stored width, low-bit weights at their packed width, and each sparse float tensor as Deep Compression stores a pruned layer (relative indices and values) where that is smaller. Intervals are 95 % paired bootstrap intervals. Latencies are medians of interleaved runs on this machine.</p>\n");
    }

    private static void Trials(StringBuilder h, RunReport r, ReportImages images)
    {
        h.Append("<h2>Trials over time</h2>\n");
        Image(h, images.Trials, "The objective of each trial, within the budget or not", "No trial has an objective value yet.");
        h.Append("<table id=\"trials\"><thead><tr><th>trial</th><th>started (s)</th><th>finished (s)</th><th>status</th><th>configuration</th><th>")
            .Append(E(r.ObjectiveMetric == TrialMetrics.Latency ? "p50 ms" : "size (bytes)")).Append("</th><th>")
            .Append(r.Trials.Any(t => t.Fidelity is not null) ? "fidelity" : "drop (points)").Append("</th><th>within the budget</th></tr></thead><tbody>\n");
        foreach (var t in r.Trials)
            h.Append("<tr").Append(t.Number == r.Chosen ? " class=\"chosen\"" : "").Append("><td>").Append(t.Number).Append("</td><td>").Append(Sec(t.Start))
                .Append("</td><td>").Append(Sec(t.Finish)).Append("</td><td>").Append(E(t.Status)).Append("</td><td>").Append(E(t.Summary)).Append("</td><td>")
                .Append(t.Objective is { } v ? (r.ObjectiveMetric == TrialMetrics.Latency ? Ms(v) : N((long)v)) : "–").Append("</td><td>")
                .Append(t.Fidelity is { } f ? f.ToString("F4", Inv) : t.Drop is { } d ? d.ToString("F2", Inv) : "–").Append("</td><td>")
                .Append(t.Status == "completed" ? (t.Feasible ? "yes" : "no") : "–").Append("</td></tr>\n");
        h.Append("</tbody></table>\n");
    }

    private static void Fronts(StringBuilder h, RunReport r, ReportImages images)
    {
        h.Append("<h2>Pareto fronts</h2>\n<p>Each point is a completed trial; the line joins the trials no other trial beats on both axes; the ring marks the chosen model.</p>\n");
        Image(h, images.SizeFront, "Accuracy against size", "No trial completed yet.");
        Image(h, images.LatencyFront, "Accuracy against latency", "");
    }

    private static void Layers(StringBuilder h, RunReport r, ReportImages images)
    {
        h.Append("<h2>Layers of the chosen model</h2>\n");
        Image(h, images.Layers, "Sparsity and precision per layer", "No chosen model yet.");
        if (r.Layers.Count == 0) return;
        h.Append("<table id=\"layers\"><thead><tr><th>layer</th><th>op</th><th>weight</th><th>parameters</th><th>non-zero</th><th>sparsity</th><th>precision</th></tr></thead><tbody>\n");
        foreach (var l in r.Layers)
            h.Append("<tr><td>").Append(E(l.Layer)).Append("</td><td>").Append(E(l.OpType)).Append("</td><td>").Append(E(l.Weight)).Append("</td><td>").Append(N(l.Parameters))
                .Append("</td><td>").Append(N(l.NonZero)).Append("</td><td>").Append((l.Sparsity * 100).ToString("F1", Inv)).Append(" %</td><td>").Append(E(l.Precision)).Append("</td></tr>\n");
        h.Append("</tbody></table>\n");
    }

    private static void Training(StringBuilder h, RunReport r, ReportImages images)
    {
        h.Append("<h2>Training curves of the chosen model</h2>\n");
        if (images.Training is not null)
            h.Append("<p class=\"note\">The training loss is the fine-tuning's own (the distillation loss when it distills from the teacher); the test loss is the cross-entropy on the test split.</p>\n");
        Image(h, images.Training, "Loss per epoch", r.Chosen is null ? "No chosen model yet." : "No stage of the chosen trial trained, so there is no curve.");
    }

    private static void Rejected(StringBuilder h, RunReport r)
    {
        h.Append("<h2>Rejected candidates</h2>\n");
        if (r.Rejected.Count == 0)
        {
            h.Append("<p>Every finished trial is within the budget.</p>\n");
            return;
        }
        h.Append("<table id=\"rejected\"><thead><tr><th>trial</th><th>status</th><th>configuration</th><th>why it was rejected</th></tr></thead><tbody>\n");
        foreach (var t in r.Rejected)
            h.Append("<tr><td>").Append(t.Number).Append("</td><td>").Append(E(t.Status)).Append("</td><td>").Append(E(t.Summary)).Append("</td><td>").Append(E(t.Reason)).Append("</td></tr>\n");
        h.Append("</tbody></table>\n");
    }

    private static void Image(StringBuilder h, string? svg, string alt, string none) => HtmlPage.Image(h, svg, alt, none);

    private static void Row(StringBuilder h, string name, string before, string after, string change) =>
        h.Append("<tr><th>").Append(E(name)).Append("</th><td>").Append(E(before)).Append("</td><td>").Append(E(after)).Append("</td><td>").Append(E(change)).Append("</td></tr>\n");

    private static string E(string s) => HtmlPage.E(s);
    private static string N(long n) => n.ToString("N0", Inv);
    private static string Macs(long? macs) => macs is { } m ? N(m) : "not counted (integer kernels)";
    private static string Ms(double ms) => ms.ToString(ms < 10 ? "F3" : "F2", Inv);
    private static string Sec(double? s) => s is { } x ? x.ToString("F1", Inv) : "–";

    private static string Bytes(long b) => b >= 1 << 20 ? $"{(b / 1048576.0).ToString("F2", Inv)} MiB ({N(b)})" : b >= 1024 ? $"{(b / 1024.0).ToString("F1", Inv)} KiB ({N(b)})" : $"{N(b)} B";

    /// <summary>"6.85× smaller" when the chosen model has less, "+0.3 %" when it has more, "same" when equal.</summary>
    private static string Ratio(long before, long? after, string word = "fewer") => after switch
    {
        null => "",
        { } a when a == before => "same",
        { } a when a < before && a > 0 => ((double)before / a).ToString("F2", Inv) + $"× {word}",
        { } a when a < before => "all gone",
        { } a when before > 0 => "+" + (100.0 * (a - before) / before).ToString("F1", Inv) + " %",
        _ => "",
    };

    private static string Goal(OptimizeGoal g) => g switch
    {
        OptimizeGoal.Latency => "the fastest model (ONNX Runtime, only changes measured faster)",
        OptimizeGoal.Both => "a front of smaller and faster models",
        _ => "the smallest model (packed parameter bytes)",
    };

    private static string Stop(string stop) => stop switch
    {
        "running" => "the run had not ended when this page was written (it is rewritten after every trial, and at the end)",
        "trial-limit" => "the run ended at its number of trials",
        "wall-time" => "the run ended at its time budget",
        "exhausted" => "the run ended with every configuration of the space tried",
        _ => "the run was interrupted (continue it with resume)",
    };
}

/// <summary>The plots of a report page (null: nothing to plot yet).</summary>
internal sealed record ReportImages(string? Trials, string? SizeFront, string? LatencyFront, string? Layers, string? Training);
