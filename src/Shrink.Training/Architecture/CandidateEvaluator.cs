using System.Diagnostics;
using System.Globalization;
using Shrink.Architecture;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Search;
using Shrink.Techniques;
using Shrink.Training.Distillation;
using Shrink.Training.Execution;

namespace Shrink.Training.Architecture;

/// <summary>
/// One trial of <see cref="ArchitectureSearch"/>: in table mode, the candidate's latency predicted from its blocks, each timed
/// after its predecessor (<see cref="LatencyTable.PredictInContext"/>) and a constraint on latency checked against it before anything is built; the configuration's network built, its parameters, bytes and MACs counted and
/// the constraints on them checked (a candidate outside one is pruned with the reason, before any training), then trained
/// (distilled from the teacher when there is one) for the trial's epochs, written as <c>DIR/trials/NNNN/model.onnx</c> through
/// <see cref="ModelSaver"/> (loaded in ONNX Runtime), scored on the test split (accuracy in points, or top-1 agreement with the
/// teacher) and timed at batch 1 and the large batch (<see cref="LatencyProfile"/>: median of interleaved runs, fixed threads).
/// </summary>
internal sealed class CandidateEvaluator(SearchRun run)
{
    public const string ModelFile = "model.onnx";

    public Task<TrialResult> Evaluate(Configuration c, TrialContext context, CancellationToken token) => Task.Run(() =>
    {
        var summary = new Dictionary<string, string> { ["summary"] = run.Space.Summary(c) };
        var metrics = Predicted(c);
        if (Refusal(metrics, predicted: true) is { } early) return TrialResult.Pruned(metrics, early) with { Attributes = summary };
        var model = run.Space.Build(c, run.Sample, run.Classes, run.Options.Seed);
        foreach (var kv in ArchitectureMetrics.Static(model)) metrics[kv.Key] = kv.Value;
        if (Refusal(metrics, predicted: false) is { } reason) return TrialResult.Pruned(metrics, reason) with { Attributes = summary };
        var directory = run.TrialDirectory(context.Number);
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);   // a retried trial starts again
        Directory.CreateDirectory(directory);
        var epochs = run.Options.EpochsAt(context.Budget);
        var clock = Stopwatch.StartNew();
        var trained = Train(run, model, epochs, token);
        metrics[ArchitectureMetrics.TrainSeconds] = clock.Elapsed.TotalSeconds;
        var path = Path.Combine(directory, ModelFile);
        ModelSaver.Save(trained, path);
        var tableOnly = run.Options.Latency == LatencyMode.TableOnly;
        foreach (var kv in Measure(run, path, latency: !tableOnly)) metrics[kv.Key] = kv.Value;
        if (run.Table is { } table && !tableOnly)
            table.Observe(context.Number, table.Batches.ToDictionary(b => b, b => metrics[ArchitectureMetrics.TableLatencyAt(b)]),
                table.Batches.ToDictionary(b => b, b => metrics[ArchitectureMetrics.LatencyAt(b)]));
        if (tableOnly)
            foreach (var batch in run.Options.LatencyBatches) metrics[ArchitectureMetrics.LatencyAt(batch)] = metrics[ArchitectureMetrics.PredictedLatencyAt(batch)];
        return TrialResult.Completed(metrics, Path.GetRelativePath(run.Directory, path)) with { Attributes = summary };
    }, token);

    /// <summary>
    /// The latency table's prediction of the candidate at each batch, from its blocks, before it is built: the table's sum of
    /// the pieces timed in context (<c>table_latency_bN_ms</c>, <see cref="LatencyTable.PredictInContext"/>), the sum of the
    /// pieces timed alone beside it for comparison (<c>table_alone_latency_bN_ms</c>, <see cref="LatencyTable.Predict"/>), and the prediction (<c>predicted_latency_bN_ms</c>), the sum corrected by the calibration
    /// fitted on the trials measured so far, or the sum itself before there is one (<c>calibration_trials</c> 0); empty without a table.
    /// </summary>
    private Dictionary<string, double> Predicted(Configuration c)
    {
        var metrics = new Dictionary<string, double>();
        if (run.Table is not { } table) return metrics;
        var calibration = table.Calibrate();
        var blocks = run.Space.Blocks(c, run.Sample, run.Classes);
        foreach (var (batch, ms) in table.Predict(blocks)) metrics[ArchitectureMetrics.TableAloneLatencyAt(batch)] = ms;
        foreach (var (batch, ms) in table.PredictInContext(blocks))
        {
            metrics[ArchitectureMetrics.TableLatencyAt(batch)] = ms;
            metrics[ArchitectureMetrics.PredictedLatencyAt(batch)] = calibration.FirstOrDefault(k => k.Batch == batch) is { } k ? k.Apply(ms) : ms;
        }
        metrics[ArchitectureMetrics.CalibrationTrials] = calibration.Count == 0 ? 0 : calibration[0].Trials.Count;
        return metrics;
    }

    /// <summary>
    /// Why a candidate cannot qualify from what is known before training, or null: with <paramref name="predicted"/>, a constraint
    /// on latency against the table's prediction (before the candidate is built); else one on params, bytes or MACs.
    /// </summary>
    private string? Refusal(IReadOnlyDictionary<string, double> metrics, bool predicted)
    {
        if (predicted)
        {
            var slow = run.Options.Constraints.Where(k => ArchitectureMetrics.IsLatency(k.Metric) && metrics.ContainsKey(Predicted(k))
                && k.Violation(new Dictionary<string, double> { [k.Metric] = metrics[Predicted(k)] }) > 0).ToList();
            return slow.Count == 0 ? null : "before building: " + string.Join("; ", slow.Select(k => string.Format(CultureInfo.InvariantCulture,
                "the latency table predicts {0} {1:G4}, {2} the limit {3:G4}", k.Metric, metrics[Predicted(k)], k.Bound == Bound.AtMost ? "over" : "under", k.Limit)));
        }
        var broken = run.Options.Constraints.Where(k => ArchitectureMetrics.IsStatic(k.Metric) && k.Violation(metrics) > 0).ToList();
        return broken.Count == 0 ? null : "before training: " + string.Join("; ", broken.Select(k => string.Format(CultureInfo.InvariantCulture,
            "{0} {1:N0} is {2} the limit {3:N0}", k.Metric, metrics[k.Metric], k.Bound == Bound.AtMost ? "over" : "under", k.Limit)));
    }

    private static string Predicted(Constraint k) => "predicted_" + k.Metric;

    /// <summary>A copy of <paramref name="model"/> trained for <paramref name="epochs"/> epochs on the training split (distilled when the run has a teacher).</summary>
    public static Model Train(SearchRun run, Model model, int epochs, CancellationToken token)
    {
        TorchRuntime.EnsureInitialized();
        var options = (run.Options.Training with { Epochs = epochs, Seed = run.Options.Seed, RunDirectory = null, Resume = false, EvaluateEachEpoch = false }).Validate();
        var session = new TechniqueSession { Cancel = token, Naming = run.Session.Naming, Verbosity = run.Session.Verbosity };
        if (run.Teacher is { } teacher)
        {
            var distill = new DistillTechniqueOptions { Distillation = run.Options.Distillation, Training = options };
            return Distiller.Distill(model, teacher, distill, run.Data, session, run.TeacherName).Model;
        }
        using var executor = GraphExecutor.Compile(model);
        using var trainer = new Trainer(executor, options);
        TrainingSession.Fit(trainer, run.Data.Train, null, session);
        return executor.Export();
    }

    /// <summary>The test score (accuracy in points, or fidelity to the teacher) and (with <paramref name="latency"/>) the latencies of the model at <paramref name="path"/>.</summary>
    public static Dictionary<string, double> Measure(SearchRun run, string path, bool latency = true)
    {
        var metrics = new Dictionary<string, double>();
        var predictions = SamplePredictions.Of(path, run.Data.Test, new RunnerOptions { Threads = run.Options.LatencyThreads });
        if (run.ByFidelity) metrics[ArchitectureMetrics.Fidelity] = predictions.Agrees(run.TeacherPredictions!).Count(x => x) / (double)predictions.Predicted.Length;
        else metrics[ArchitectureMetrics.Accuracy] = 100.0 * predictions.Correct().Count(x => x) / predictions.Predicted.Length;
        if (!latency) return metrics;
        foreach (var (batch, q) in LatencyProfile.Measure(path, run.Options.LatencyBatches, run.Options.LatencyThreads))
            metrics[ArchitectureMetrics.LatencyAt(batch)] = q.P50Ms;
        return metrics;
    }
}
