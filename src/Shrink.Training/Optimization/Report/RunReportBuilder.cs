using ConfidenceInterval = Shrink.Evaluation.ConfidenceInterval;
using System.Globalization;
using Shrink.Onnx;
using Shrink.Recipes;
using Shrink.Stats;

namespace Shrink.Training.Optimization;

/// <summary>
/// Builds the <see cref="RunReport"/> of an <see cref="OptimizeResult"/>: what the result lacks (parameters, non-zeros,
/// MACs, the chosen model's layers) is read from the two ONNX files, the training curves from the chosen trial's stage
/// files (<c>trials/NNNN/NN-technique.json</c>). The original's statistics and the chosen model's are kept between calls,
/// so rebuilding after every trial reads a model only when the chosen one changed.
/// </summary>
internal sealed class RunReportBuilder
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private (string Path, ModelStats Stats)? _original;
    private (string Path, ModelStats Stats, List<LayerPrecision> Layers, List<TrainingCurve> Curves)? _chosen;

    public RunReport Build(OptimizeResult r, string directory)
    {
        var objective = r.Goal == OptimizeGoal.Latency ? TrialMetrics.Latency : TrialMetrics.Bytes;
        var chosen = r.Best is { Model: { } m } ? Chosen(Path.Combine(directory, m)) : default;
        var recipe = Path.Combine(directory, RunFiles.BestRecipe);
        return new RunReport
        {
            Model = r.Model, Directory = directory, Goal = r.Goal, Budget = r.Budget, Stop = r.Stop, ObjectiveMetric = objective,
            Chosen = r.Best?.Number + 1, Met = r.Met, Miss = r.Miss, MissReasons = r.MissReasons,
            Original = Original(r), Result = chosen is { } c && r.Best is { } best ? Result(r, best, c.Stats) : null,
            FinalAccuracy = r.Final?.Accuracy, FinalDrop = r.Final?.Drop, FinalFidelity = r.Final?.Fidelity, FinalSamples = r.Final?.Samples,
            Trials = Trials(r, objective), SizeFront = Front(r, r.Pareto.AccuracyVsSize, TrialMetrics.Bytes),
            LatencyFront = Front(r, r.Pareto.AccuracyVsLatency, TrialMetrics.Latency),
            Parts = r.Parts, ChosenOutputs = r.Best is { } picked ? OutputCheck.Of(picked.Metrics) : null, Layers = chosen?.Layers ?? [], Training = chosen?.Curves ?? [], Rejected = Rejected(r),
            Recipe = r.Best is not null && File.Exists(recipe) ? recipe : null,
        };
    }

    private ModelFigures Original(OptimizeResult r)
    {
        if (_original?.Path != r.Model) _original = (r.Model, ModelStats.Compute(r.Model));
        var s = _original.Value.Stats;
        return new ModelFigures(s.Parameters, s.NonZero, r.Baseline.FileBytes, r.Baseline.Bytes, Macs(s), r.Baseline.Accuracy, null,
            r.MinFidelity is null ? null : 1.0, null, Latencies(r.Baseline.LatencyMs));
    }

    private static ModelFigures Result(OptimizeResult r, TrialSummary best, ModelStats s)
    {
        var m = best.Metrics;
        double? Get(string k) => m.TryGetValue(k, out var v) ? v : null;
        var fidelity = r.Final?.Fidelity ?? (Get(TrialMetrics.Fidelity) is { } f ? new ConfidenceInterval(f, m[TrialMetrics.FidelityLow], m[TrialMetrics.FidelityHigh], 0.95, 0, 0) : null);
        return new ModelFigures(s.Parameters, s.NonZero, (long)(Get(TrialMetrics.FileBytes) ?? s.BytesOnDisk), (long)(Get(TrialMetrics.Bytes) ?? s.PackedBytes), Macs(s),
            r.Final?.Accuracy?.Estimate ?? Get(TrialMetrics.Accuracy), r.Final?.Accuracy, fidelity?.Estimate, fidelity, Latencies(m));
    }

    /// <summary>The MACs per sample, or null when a layer's are not counted (an integer kernel, a shape not known).</summary>
    private static long? Macs(ModelStats s) =>
        s.MacsComplete && !s.Layers.Any(l => l.Macs is null && LayerPrecisions.IsLayer(l.OpType)) ? s.Macs : null;

    /// <summary>p50 ms by batch size from the <c>latency_ms_bN</c> metrics.</summary>
    private static Dictionary<int, double> Latencies(IReadOnlyDictionary<string, double> metrics)
    {
        const string prefix = "latency_ms_b";
        return metrics.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal) && int.TryParse(kv.Key[prefix.Length..], NumberStyles.None, Inv, out _))
            .OrderBy(kv => int.Parse(kv.Key[prefix.Length..], Inv)).ToDictionary(kv => int.Parse(kv.Key[prefix.Length..], Inv), kv => kv.Value);
    }

    /// <summary>The chosen trial's model statistics, layers and training curves (read again only when the chosen model changed).</summary>
    private (string Path, ModelStats Stats, List<LayerPrecision> Layers, List<TrainingCurve> Curves)? Chosen(string model)
    {
        if (_chosen?.Path == model) return _chosen;
        if (!File.Exists(model)) return null;
        var stages = Directory.GetFiles(Path.GetDirectoryName(model)!, "*.json").Order(StringComparer.Ordinal)
            .Select(StageMetrics.TryRead).OfType<StageMetrics>().OrderBy(s => s.Stage).ToList();
        var onnx = OnnxReader.Read(model);
        var layers = LayerPrecisions.Of(onnx, LayerPrecisions.SharedBits(stages));
        var curves = stages.SelectMany(s => (s.Training ?? []).GroupBy(e => e.Label).Select(g => new TrainingCurve(
            $"{RecipeStage.Label(s.Stage - 1, s.Technique)}: {(g.Key.Length == 0 ? "training" : g.Key)}",
            g.Select(e => new EpochLoss(e.Epoch, e.TrainLoss, e.TestLoss)).ToList()))).ToList();
        _chosen = (model, ModelStats.Compute(model), layers, curves);
        return _chosen;
    }

    private static List<ReportTrial> Trials(OptimizeResult r, string objective)
    {
        var origin = r.Trials.Select(t => t.Started).Where(s => s is not null).DefaultIfEmpty(null).Min();
        double? Since(DateTimeOffset? t) => t is { } x && origin is { } o ? Math.Round((x - o).TotalSeconds, 3) : null;
        return r.Trials.OrderBy(t => t.Number).Select(t => new ReportTrial(t.Number + 1, Since(t.Started), Since(t.Finished), t.Status, t.Summary,
            t.Metrics.TryGetValue(objective, out var v) ? v : null, t.Metrics.TryGetValue(TrialMetrics.Drop, out var d) ? d : null,
            t.Metrics.TryGetValue(TrialMetrics.Fidelity, out var f) ? f : null, t.Feasible)).ToList();
    }

    /// <summary>Every completed trial against <paramref name="metric"/>, those of <paramref name="front"/> marked.</summary>
    private static List<FrontPoint> Front(OptimizeResult r, IReadOnlyList<ParetoPoint> front, string metric)
    {
        var on = front.Select(p => p.Trial).ToHashSet();
        var y = r.MinFidelity is null ? TrialMetrics.Drop : TrialMetrics.Fidelity;
        return r.Trials.Where(t => t.Status == "completed" && t.Metrics.ContainsKey(metric) && t.Metrics.ContainsKey(y)).OrderBy(t => t.Number)
            .Select(t => new FrontPoint(t.Number + 1, t.Metrics[metric], t.Metrics[y], on.Contains(t.Number), t.Feasible, t.Number == r.Best?.Number)).ToList();
    }

    private static List<RejectedTrial> Rejected(OptimizeResult r) => r.Trials.OrderBy(t => t.Number)
        .Where(t => t.Status is "failed" or "pruned" || t.Status == "completed" && !t.Feasible)
        .Select(t => new RejectedTrial(t.Number + 1, t.Status, t.Summary, RejectionReasons.Of(r, t))).ToList();
}
