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
/// <c>DIR/trials/NNNN</c>, then its model measured against the original on the test split: its size (<see cref="TrialSize"/>), the
/// per-sample accuracy (or agreement with the original) with its paired 95 % bootstrap interval, and the ONNX Runtime
/// latency at each batch size, timed interleaved with the original's (<see cref="LatencyComparison"/>: faster only when
/// the interquartile ranges are apart). A trial at a budget below 1 (successive halving) fine-tunes and calibrates on
/// that share of the training samples and is accepted on that share of the test samples (<see cref="OptimizeRun.RecipeOf"/>,
/// <see cref="OptimizeRun.TestAt"/>). A model whose outputs are not finite numbers fails its trial, as does any exception
/// (a fine-tuning whose loss diverged): the search engine records the error and goes on.
/// </summary>
internal sealed class TrialEvaluator(OptimizeRun run, TrialHooks? hooks = null)
{
    /// <summary>The metrics of the trial's model (see <see cref="TrialMetrics"/>), or the trial pruned when its configuration is not built.</summary>
    public Task<TrialResult> Evaluate(Configuration c, TrialContext context, CancellationToken token) => Task.Run(() =>
    {
        if (CompressionPlan.Refusal(c) is { } reason) return TrialResult.Pruned(new Dictionary<string, double>(), reason);
        var directory = run.TrialDirectory(context.Number);
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);   // a retried trial starts again
        var recipe = run.RecipeOf(c, context.Budget);
        if (hooks?.Recipe is { } change) recipe = change(context, recipe);
        var notes = run.Session.Verbosity == Passes.NotesLevel.Detailed ? n => run.Session.Note($"trial {context.Number + 1}: {n}") : (Action<string>?)null;
        var session = new TechniqueSession { Cancel = token, Notes = notes, Naming = run.Session.Naming, Verbosity = run.Session.Verbosity };
        var outcome = RecipeRunner.Run(recipe, directory, session);
        hooks?.Model?.Invoke(context, outcome.FinalModel);
        var model = Path.GetRelativePath(run.Directory, outcome.FinalModel);
        var attributes = new Dictionary<string, string> { ["summary"] = Summary(c, context.Budget) };
        var (metrics, error) = Measure(outcome.FinalModel, context, token);
        if (error is null && Rewrites(recipe)) foreach (var kv in OutputFidelity(outcome.FinalModel, context)) metrics[kv.Key] = kv.Value;
        var result = error is null ? TrialResult.Completed(metrics, model) : TrialResult.Failed(error) with { Metrics = metrics, ModelPath = model };
        return result with { Attributes = attributes };
    }, token);

    /// <summary>The configuration in words, with the budget when it is a share ("static int8, 0 epochs, budget 1/9").</summary>
    private static string Summary(Configuration c, double budget) =>
        CompressionSpace.Summary(c) + (budget >= 1 ? "" : $", budget {OptimizeOptions.Share(budget)}");

    /// <summary>Every metric of the model at <paramref name="path"/> against the original, or the error that fails the trial (outputs that are not finite numbers).</summary>
    /// <remarks>Checks <paramref name="token"/> between the measurements, so Ctrl-C gives a trial back instead of finishing it.</remarks>
    private (Dictionary<string, double> Metrics, string? Error) Measure(string path, TrialContext context, CancellationToken token)
    {
        token.ThrowIfCancellationRequested();
        var runner = new RunnerOptions { Threads = context.Threads };
        var size = ModelEvaluation.Measure(path, null, runner);
        var (bytes, container) = TrialSize.Of(path);
        var metrics = new Dictionary<string, double>
        {
            [TrialMetrics.Bytes] = bytes, [TrialMetrics.FileBytes] = size.Bytes, [TrialMetrics.PackedBytes] = size.PackedBytes,
        };
        if (container is { } packed) metrics[TrialMetrics.ContainerBytes] = packed;
        var test = run.TestAt(context.Budget);
        var predictions = SamplePredictions.Of(path, test, runner);
        metrics[TrialMetrics.Samples] = test.Count;
        if (predictions.NonFinite > 0)
            return (metrics, $"the model's outputs are not finite numbers (NaN or infinity) on {predictions.NonFinite} of {test.Count} test samples");
        foreach (var kv in run.Acceptance(predictions)) metrics[kv.Key] = kv.Value;
        token.ThrowIfCancellationRequested();
        foreach (var kv in Latency(path, runner)) metrics[kv.Key] = kv.Value;
        return (metrics, null);
    }

    /// <summary>Techniques that rewrite the graph with no training and promise outputs close to the input's: their trials get the output fidelity check.</summary>
    private static readonly HashSet<string> Rewriting = ["merge", "convert-precision"];

    private static bool Rewrites(Recipe recipe) => recipe.Stages.Any(s => Rewriting.Contains(s.Technique));

    /// <summary>
    /// The fidelity check of merging and half precision (<see cref="Fidelity.Measure(string, string, IDataSource, RunnerOptions?, int)"/>):
    /// the trial's outputs against the original's on up to <see cref="FidelitySamples"/> test samples, worst over the
    /// outputs — cosine, SQNR in dB (left out when the outputs are equal: it is infinite) and max |error|.
    /// </summary>
    private Dictionary<string, double> OutputFidelity(string path, TrialContext context)
    {
        var outputs = Fidelity.Measure(run.OriginalPath, path, run.Test.Take(Math.Min(FidelitySamples, run.Test.Count)), new RunnerOptions { Threads = context.Threads });
        var metrics = new Dictionary<string, double>
        {
            [TrialMetrics.OutputCosine] = outputs.Min(o => o.Cosine), [TrialMetrics.OutputMaxError] = outputs.Max(o => o.MaxAbsError),
        };
        if (outputs.Min(o => o.SqnrDb) is var sqnr && double.IsFinite(sqnr)) metrics[TrialMetrics.OutputSqnr] = sqnr;
        return metrics;
    }

    /// <summary>Test samples the output fidelity check of merging and half precision runs on.</summary>
    public const int FidelitySamples = 1000;

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

/// <summary>
/// Test seams of <see cref="TrialEvaluator"/> (internal): a change to a trial's recipe before it runs (a fine-tuning made
/// to diverge) and a look at its model before it is measured (a model made to output NaN).
/// </summary>
internal sealed record TrialHooks
{
    public Func<TrialContext, Recipe, Recipe>? Recipe { get; init; }
    public Action<TrialContext, string>? Model { get; init; }
}

/// <summary>The metric names of an optimize trial, as the trial store, <c>pareto.json</c> and the result hold them.</summary>
public static class TrialMetrics
{
    /// <summary>Test samples the trial was accepted on (all of them, or its successive-halving share).</summary>
    public const string Samples = "samples";
    /// <summary>What the size goal minimizes (<see cref="TrialSize"/>): a clustered model's <c>.shrink</c> container bytes, else its parameter bytes with sparse float tensors in Deep Compression's relative-index form.</summary>
    public const string Bytes = "bytes";
    /// <summary>Parameter bytes at their stored width, dense (low-bit weights at their packed width).</summary>
    public const string PackedBytes = "packed_bytes";
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
    /// <summary>
    /// The output fidelity check of trials that merge layers or convert to half precision, against the original on up to
    /// 1,000 test samples, worst over the outputs: mean cosine, SQNR in dB (absent when the outputs are equal), max |error|.
    /// </summary>
    public const string OutputCosine = "output_cosine", OutputSqnr = "output_sqnr_db", OutputMaxError = "output_max_error";
    /// <summary>Batch sizes at which the candidate was not measured faster (the latency goal needs 0).</summary>
    public const string NotFaster = "not_faster";

    /// <summary>p50 ms at <paramref name="batch"/>.</summary>
    public static string LatencyAt(int batch) => $"latency_ms_b{batch.ToString(CultureInfo.InvariantCulture)}";
}
