namespace Shrink.Training.Optimization;

/// <summary>The report's plots as SVG (<see cref="SvgChart"/>): trials over time, the two fronts, per-layer sparsity, training curves; null when there is nothing to plot.</summary>
internal static class ReportPlots
{
    private const string Feasible = "#2b8a3e", Infeasible = "#c92a2a", Chosen = "#f08c00", FrontColor = "#1c7ed6", Other = "#adb5bd";
    private static readonly string[] Palette = ["#1c7ed6", "#e8590c", "#2b8a3e", "#862e9c", "#c92a2a", "#0b7285", "#5f3dc4", "#a61e4d"];

    /// <summary>The objective of every trial by number, within the budget or not, the chosen one ringed.</summary>
    public static string? Trials(RunReport r)
    {
        var points = r.Trials.Where(t => t.Objective is not null).ToList();
        if (points.Count == 0) return null;
        var scale = Scale(r.ObjectiveMetric);
        (double, double) P(ReportTrial t) => (t.Number, t.Objective!.Value / scale);
        return new SvgChart("Trials: the objective of each trial, in the order they ran", "trial", Label(r.ObjectiveMetric))
            .Add("within the budget", Feasible, points.Where(t => t.Feasible).Select(P))
            .Add("outside the budget", Infeasible, points.Where(t => !t.Feasible).Select(P), Marker.Cross)
            .Add("best within the budget so far", FrontColor, BestSoFar(points).Select(P), Marker.None, line: true, dashed: true)
            .Add("chosen", Chosen, points.Where(t => t.Number == r.Chosen).Select(P), Marker.Ring, size: 10)
            .Render();
    }

    /// <summary>The running best of the feasible trials (a step at each improvement).</summary>
    private static IEnumerable<ReportTrial> BestSoFar(List<ReportTrial> points)
    {
        double? best = null;
        foreach (var t in points.Where(t => t.Feasible))
            if (best is null || t.Objective < best)
            {
                if (best is not null) yield return t with { Objective = best };
                best = t.Objective;
                yield return t;
            }
        if (best is not null && points[^1].Number > points.Where(t => t.Feasible).Max(t => t.Number)) yield return points[^1] with { Objective = best };
    }

    /// <summary>Accuracy loss (drop, or fidelity) against <paramref name="metric"/>; the front joined, the chosen model ringed.</summary>
    public static string? Front(IReadOnlyList<FrontPoint> points, string metric, bool byFidelity, string title)
    {
        if (points.Count == 0) return null;
        var scale = Scale(metric);
        (double, double) P(FrontPoint p) => (p.X / scale, p.Y);
        return new SvgChart(title, Label(metric), byFidelity ? "fidelity (top-1 agreement)" : "accuracy drop (points)")
            .Add("other trials", Other, points.Where(p => !p.OnFront).Select(P))
            .Add("Pareto front", FrontColor, points.Where(p => p.OnFront).OrderBy(p => p.X).Select(P), line: true)
            .Add("outside the budget", Infeasible, points.Where(p => !p.Feasible).Select(P), Marker.Cross, size: 4)
            .Add("chosen", Chosen, points.Where(p => p.Chosen).Select(P), Marker.Ring, size: 10)
            .Render();
    }

    /// <summary>Each layer's sparsity as a bar, labelled with its precision (blue: float, green: integer or shared).</summary>
    public static string? Layers(IReadOnlyList<LayerPrecision> layers)
    {
        if (layers.Count == 0) return null;
        return new SvgChart("Layers of the chosen model: zero weights, labelled with the weights' precision", "", "zero weights (%)", height: 460)
            .Bars(layers.Select(l => Short(l.Layer)).ToList(), layers.Select(l => l.Sparsity * 100).ToList(), layers.Select(l => l.Precision).ToList(),
                layers.Select(l => l.Precision.StartsWith("float", StringComparison.Ordinal) || l.Precision.StartsWith("bfloat", StringComparison.Ordinal) ? FrontColor : Feasible).ToList())
            .YRange(0, 105).Render();
    }

    /// <summary>The training loss per epoch of each training run (dashed: its test loss).</summary>
    public static string? Training(IReadOnlyList<TrainingCurve> curves)
    {
        var runs = curves.Where(c => c.Epochs.Count > 0).ToList();
        if (runs.Count == 0) return null;
        var chart = new SvgChart("Training of the chosen model: loss per epoch", "epoch", "loss");
        for (var i = 0; i < runs.Count; i++)
        {
            var color = Palette[i % Palette.Length];
            chart.Add($"{runs[i].Label}: training", color, runs[i].Epochs.Select(e => ((double)e.Epoch, e.TrainLoss)), line: true);
            chart.Add($"{runs[i].Label}: test", color, runs[i].Epochs.Where(e => e.TestLoss is not null).Select(e => ((double)e.Epoch, e.TestLoss!.Value)),
                Marker.Ring, line: true, dashed: true, size: 4);
        }
        return chart.Render();
    }

    private static double Scale(string metric) => metric == TrialMetrics.Latency ? 1 : 1024;

    private static string Label(string metric) => metric == TrialMetrics.Latency ? "p50 latency at the largest batch (ms)" : "packed parameters (KiB)";

    private static string Short(string name) => name.Length <= 24 ? name : name[..11] + "…" + name[^11..];
}
