using System.Globalization;
using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Recipes;
using Shrink.Runtime;
using Shrink.Search;
using Shrink.Techniques;

namespace Shrink.Training.Optimization;

/// <summary>
/// One trial of <see cref="Optimizer"/>: the configuration's recipe run by <see cref="RecipeRunner"/> into
/// <c>DIR/trials/NNNN</c>, then its model measured against the original on the full test split: packed bytes, the
/// per-sample accuracy (or agreement with the original) with its paired 95 % bootstrap interval, and the ONNX Runtime
/// latency at each batch size, timed interleaved with the original's (<see cref="LatencyComparison"/>: faster only when
/// the interquartile ranges are apart).
/// </summary>
internal sealed class TrialEvaluator(OptimizeRun run)
{
    /// <summary>The metrics of the trial's model (see <see cref="TrialMetrics"/>), or the trial pruned when its configuration is not built.</summary>
    public Task<TrialResult> Evaluate(Configuration c, TrialContext context, CancellationToken token) => Task.Run(() =>
    {
        if (CompressionPlan.Refusal(c) is { } reason) return TrialResult.Pruned(new Dictionary<string, double>(), reason);
        var directory = run.TrialDirectory(context.Number);
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);   // a retried trial starts again
        var recipe = run.RecipeOf(c);
        var notes = run.Session.Verbosity == Passes.NotesLevel.Detailed ? n => run.Session.Note($"trial {context.Number + 1}: {n}") : (Action<string>?)null;
        var session = new TechniqueSession { Cancel = token, Notes = notes, Naming = run.Session.Naming, Verbosity = run.Session.Verbosity };
        var outcome = RecipeRunner.Run(recipe, directory, session);
        var metrics = Measure(outcome.FinalModel, context.Threads);
        var result = TrialResult.Completed(metrics, Path.GetRelativePath(run.Directory, outcome.FinalModel));
        return result with { Attributes = new Dictionary<string, string> { ["summary"] = CompressionSpace.Summary(c) } };
    }, token);

    /// <summary>Every metric of the model at <paramref name="path"/> against the original.</summary>
    private Dictionary<string, double> Measure(string path, int threads)
    {
        var runner = new RunnerOptions { Threads = threads };
        var size = ModelEvaluation.Measure(path, null, runner);
        var container = TrialSize.ContainerBytes(path);
        var metrics = new Dictionary<string, double> { [TrialMetrics.Bytes] = container ?? size.PackedBytes, [TrialMetrics.FileBytes] = size.Bytes };
        if (container is { } packed) metrics[TrialMetrics.ContainerBytes] = packed;
        foreach (var kv in run.Acceptance(SamplePredictions.Of(path, run.Test, runner))) metrics[kv.Key] = kv.Value;
        foreach (var kv in Latency(path, runner)) metrics[kv.Key] = kv.Value;
        return metrics;
    }

    /// <summary>p50 latency at each batch size, the slowest ratio, and whether it is faster at every batch size.</summary>
    private Dictionary<string, double> Latency(string path, RunnerOptions runner)
    {
        using var original = OnnxRunner.Load(run.OriginalPath, runner);
        using var candidate = OnnxRunner.Load(path, runner);
        var rows = LatencyComparison.Compare(original, candidate, run.Options.LatencyBatches, warmup: 5, rounds: 6, runsPerRound: 3);
        var metrics = rows.ToDictionary(r => TrialMetrics.LatencyAt(r.Batch), r => r.Candidate.P50Ms);
        metrics[TrialMetrics.Latency] = rows[^1].Candidate.P50Ms;
        metrics[TrialMetrics.Speedup] = rows.Min(r => r.Speedup);
        metrics[TrialMetrics.NotFaster] = rows.Count(r => r.Verdict != LatencyVerdict.Faster);
        return metrics;
    }
}

/// <summary>The metric names of an optimize trial, as the trial store, <c>pareto.json</c> and the result hold them.</summary>
public static class TrialMetrics
{
    /// <summary>What the size goal minimizes (<see cref="TrialSize"/>): a clustered model's <c>.shrink</c> container bytes, else its packed parameter bytes.</summary>
    public const string Bytes = "bytes";
    /// <summary>Bytes of the <c>.shrink</c> container (clustered models only).</summary>
    public const string ContainerBytes = "container_bytes";
    /// <summary>Bytes of the ONNX file.</summary>
    public const string FileBytes = "file_bytes";
    /// <summary>Test accuracy in points (labelled data).</summary>
    public const string Accuracy = "accuracy";
    /// <summary>Accuracy drop in points, with its 95 % interval's ends.</summary>
    public const string Drop = "drop", DropLow = "drop_low", DropHigh = "drop_high";
    /// <summary>Top-1 agreement with the original, in [0, 1], with its 95 % interval's ends.</summary>
    public const string Fidelity = "fidelity", FidelityLow = "fidelity_low", FidelityHigh = "fidelity_high";
    /// <summary>How far outside the budget the trial is (≤ 0: within it), in points or in fidelity.</summary>
    public const string Excess = "excess";
    /// <summary>p50 ms at the largest batch size (what the latency goal minimizes).</summary>
    public const string Latency = "latency_ms";
    /// <summary>The smallest speed-up over the batch sizes (original p50 / candidate p50).</summary>
    public const string Speedup = "speedup";
    /// <summary>Batch sizes at which the candidate was not measured faster (the latency goal needs 0).</summary>
    public const string NotFaster = "not_faster";

    /// <summary>p50 ms at <paramref name="batch"/>.</summary>
    public static string LatencyAt(int batch) => $"latency_ms_b{batch.ToString(CultureInfo.InvariantCulture)}";
}
