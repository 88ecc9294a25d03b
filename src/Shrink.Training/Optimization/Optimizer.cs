using System.Diagnostics;
using Shrink.Evaluation;
using Shrink.IO;
using Shrink.Onnx;
using Shrink.Passes.Pruning;
using Shrink.Recipes;
using Shrink.Search;
using Shrink.Techniques;
using Shrink.Text;

namespace Shrink.Training.Optimization;

/// <summary>
/// Automatic compression (<c>shrink optimize</c>): searches the techniques together (<see cref="CompressionSpace"/>) for the
/// smallest or fastest model within an accuracy budget. Every trial is a recipe (<see cref="CompressionPlan"/>) run by
/// <see cref="RecipeRunner"/> and measured against the original (<see cref="TrialEvaluator"/>); trials are proposed and
/// recorded by the search engine (<see cref="SearchRunner"/>, <see cref="SqliteTrialStore"/> in the run directory), so a
/// run killed at any moment continues with <see cref="OptimizeOptions.Resume"/> without losing or rerunning a finished
/// trial. The best model so far, its recipe, the Pareto fronts and the result are on disk after every trial
/// (<see cref="RunFiles"/>); when no trial meets the budget the closest attempt is kept and the result says by how much
/// it misses.
/// </summary>
/// <remarks>
/// The run directory: <c>options.json</c> (what a resume must share), <c>trials.db</c> (+ <c>trials.db.lock</c> while a run
/// holds it), <c>sensitivity.json</c> (the analysis bounding each layer's sparsity), <c>merge-probe.json</c> (the kinds of merging searched), <c>channel-sensitivity.json</c> (each channel group's ratio), <c>trials/NNNN/</c> (each trial's recipe
/// run: <c>recipe.lock.yaml</c>, <c>NN-technique.onnx</c> and <c>.json</c> per stage), <c>best.onnx</c>, <c>best.recipe.yaml</c>,
/// <c>pareto.json</c> and <c>result.json</c>; with <see cref="OptimizeOptions.Split"/>, at the end, <c>best.parts/</c>.
/// </remarks>
public static class Optimizer
{
    /// <summary>The study's name in <c>trials.db</c>.</summary>
    public const string StudyName = "optimize";

    /// <summary>
    /// Optimizes <paramref name="model"/> (an ONNX file) on <paramref name="data"/> (its training split fine-tunes and
    /// calibrates, its test split accepts; <see cref="RecipeData.Teacher"/>: the teacher, else the original model is
    /// distilled from) into <paramref name="directory"/>. <paramref name="progress"/> hears each trial start and finish.
    /// </summary>
    /// <remarks>
    /// Interrupted through <see cref="TechniqueSession.Cancel"/> (Ctrl-C): the running trials are given back as pending (a
    /// resume runs them first), <c>result.json</c> is rewritten with stop "cancelled", and <see cref="OperationCanceledException"/> is thrown.
    /// </remarks>
    public static OptimizeResult Run(RecipeModel model, RecipeData data, OptimizeOptions options, string directory, TechniqueSession session,
        Action<OptimizeProgress>? progress = null) => Run(model, data, options, directory, session, progress, hooks: null);

    /// <summary><see cref="Run(RecipeModel, RecipeData, OptimizeOptions, string, TechniqueSession, Action{OptimizeProgress}?)"/> with the trials' test seams.</summary>
    internal static OptimizeResult Run(RecipeModel model, RecipeData data, OptimizeOptions options, string directory, TechniqueSession session,
        Action<OptimizeProgress>? progress, TrialHooks? hooks)
    {
        options.Validate();
        if (model.Path is null) throw new ArgumentException("optimize takes a model file", nameof(model));
        if (options.Role == SearchRole.Coordinator)
        {
            JobInputs.Check(data);
            JobInputs.CheckModel(model.Path);
        }
        directory = Path.GetFullPath(directory);
        using var shared = options.Storage is { } storage ? TrialStorage.Parse(storage).Open() : null;   // unreachable: refused before anything is written
        var (run, baseline) = Prepare(RecipeModel.File(model.Path), data, options, directory, session);
        var files = new RunFiles(run);
        var original = OnnxReader.Read(run.OriginalPath);
        var layers = CompressionSpace.LayersOf(original);
        run.FloatLayers = LayerLatency.SlowerInInt8(run, original, layers, run.Inputs);
        run.Merging = MergeProbe.Find(run, original);
        var space = CompressionSpace.For(original, options, Sensitivity(run, original), run.FloatLayers, ChannelSensitivity.Bounds(run, original), run.Merging);
        var key = CompressionPlan.Key(options.Seed, run.FloatLayers, run.Merging);
        if (!options.Resume) RefuseUnchangedOnly(space, key, options);
        var strategy = Strategy(space.Space, run.Objective, options, key);
        using var local = shared is null ? SqliteTrialStore.OpenExclusive(directory) : null;
        var store = shared ?? local!;
        var artifacts = options.Role == SearchRole.Coordinator ? new ArtifactStore(options.Artifacts!) : null;
        var job = artifacts is null ? null : OptimizeJob.Job(run, data, artifacts).ToJson();
        var study = Study.Open(store, options.StudyName ?? StudyName, space.Space, strategy.Settings, options.Resume, job);
        if (!options.Resume) foreach (var starting in space.Starting) study.Enqueue(starting);
        var events = new OptimizeEvents(run, files, baseline, progress, Stopwatch.StartNew());
        var summary = artifacts is null ? Evaluate(run, study, strategy, events, hooks) : Coordinate(run, study, strategy, events, artifacts);
        var trials = artifacts is null ? summary.Trials : TrialFiles.Localize(summary.Trials, directory, artifacts);
        var result = files.Update(trials, baseline, summary.Stop.Name());
        session.Cancel.ThrowIfCancellationRequested();
        if (result.Best is null) return result;
        var final = Final(run, files.Path(RunFiles.BestModel));
        var parts = options.Split is { } split ? files.Split(split) : null;
        return files.Update(trials, baseline, summary.Stop.Name(), final, parts);
    }

    /// <summary>The trials evaluated on this machine (<see cref="SearchRole.Both"/>), <see cref="OptimizeOptions.Workers"/> at once.</summary>
    private static SearchSummary Evaluate(OptimizeRun run, Study study, ISearchStrategy strategy, OptimizeEvents events, TrialHooks? hooks)
    {
        var options = run.Options;
        var threads = options.Threads > 0 ? options.Threads : Environment.ProcessorCount;
        run.Session.Note($"{options.Workers} trial{(options.Workers == 1 ? "" : "s")} at once, {Math.Max(1, threads / options.Workers)} ONNX Runtime thread{(threads / options.Workers > 1 ? "s" : "")} each; {study.Trials().Count(t => t.IsFinished)} finished trials in {run.Directory}");
        var runner = new SearchRunner(study, strategy, new SearchRunOptions
        {
            MaxTrials = options.Trials, WallTime = options.WallTime, Workers = options.Workers, Resume = options.Resume,
            Threads = threads, SoleCoordinator = options.Storage is null,
            Started = t => events.Started(t, study.Trials()), Finished = t => events.Finished(t, study.Trials()),
        });
        return runner.RunAsync(new TrialEvaluator(run, hooks).Evaluate, run.Session.Cancel).GetAwaiter().GetResult();
    }

    /// <summary>
    /// The trials proposed for <c>shrink worker</c>s (<see cref="SearchRole.Coordinator"/>), each finished one's files written
    /// into the run directory from the artifacts directory as it is seen (one whose artifacts are missing or damaged is
    /// reported failed with the reason, and the run goes on).
    /// </summary>
    private static SearchSummary Coordinate(OptimizeRun run, Study study, ISearchStrategy strategy, OptimizeEvents events, ArtifactStore artifacts)
    {
        run.Session.Note($"coordinating study '{study.Name}': shrink worker processes evaluate its trials; {study.Trials().Count(t => t.IsFinished)} finished, artifacts in {artifacts.Directory}");
        var coordinator = new SearchCoordinator(study, strategy, new CoordinatorOptions
        {
            MaxTrials = run.Options.Trials, WallTime = run.Options.WallTime,
            Finished = t => events.Finished(TrialFiles.LocalizeOrFail(t, run.Directory, artifacts), TrialFiles.Localize(study.Trials(), run.Directory, artifacts)),
        });
        return coordinator.RunAsync(run.Session.Cancel).GetAwaiter().GetResult();
    }

    private static (OptimizeRun Run, BaselineFigures Baseline) Prepare(RecipeModel model, RecipeData data, OptimizeOptions options, string directory, TechniqueSession session)
    {
        RunOptions.Check(directory, model, data, options);
        var run = OptimizeRun.Load(model, data, options, directory, session);
        RunOptions.Write(directory, model, data, options);
        var size = ModelEvaluation.Measure(model.Path!, null);
        var latency = Latency(model.Path!, options);
        var accuracy = options.ByFidelity ? (double?)null : 100.0 * run.Baseline.Correct().Count(x => x) / run.Baseline.Predicted.Length;
        return (run, new BaselineFigures(TrialSize.Of(model.Path!).Bytes, size.Bytes, accuracy, latency));
    }

    private static Dictionary<string, double> Latency(string path, OptimizeOptions options)
    {
        using var runner = Runtime.OnnxRunner.Load(path);
        return options.LatencyBatches.ToDictionary(TrialMetrics.LatencyAt, b => runner.Benchmark(b, warmup: 5, runs: 20).P50Ms);
    }

    /// <summary>The sensitivity analysis of the original (magnitude pruning of each layer alone, on up to 1,000 test samples), kept in the run directory.</summary>
    private static SensitivityReport Sensitivity(OptimizeRun run, Ir.Model model)
    {
        var path = Path.Combine(run.Directory, "sensitivity.json");
        if (run.Options.Resume && File.Exists(path)) return Artifacts.FromJson<SensitivityReport>(File.ReadAllText(path), path);
        var report = SensitivityAnalysis.Run(model, run.Test, new SensitivityOptions { Limit = 1000, Sparsities = CompressionSpace.SensitivitySparsities });
        AtomicFile.WriteAllText(path, Artifacts.ToJson(report));
        return report;
    }

    /// <summary>
    /// Refuses a space every configuration of which builds the input model unchanged (the techniques named have nothing to
    /// do on it: merging on a model with nothing to merge), which the strategies could not draw one trial from.
    /// </summary>
    private static void RefuseUnchangedOnly(CompressionSpace space, ConfigurationKey key, OptimizeOptions options)
    {
        if (space.Space.Size > SearchStrategy.EnumerationLimit || space.Space.Enumerate().Any(c => key.Of(c) is not null)) return;
        var names = string.Join(", ", (options.Techniques ?? Enum.GetValues<CompressionTechnique>()).Select(t => t.ToString().ToLowerInvariant()));
        throw OptionsException.For(nameof(OptimizeOptions.Techniques), $"({names}) leave nothing to try on this model: every configuration is the model unchanged; name other techniques");
    }

    /// <summary>The strategy of the options, deduplicating by <paramref name="key"/> (configurations that build one recipe are one trial; the unchanged model is never proposed).</summary>
    private static ISearchStrategy Strategy(SearchSpace space, Objective objective, OptimizeOptions options, ConfigurationKey key) => options.Strategy switch
    {
        OptimizeStrategy.Random => new RandomSearch(space, options.Seed) { Key = key },
        OptimizeStrategy.Annealing => new SimulatedAnnealing(space, objective, options.Seed) { Key = key },
        OptimizeStrategy.Halving => new SuccessiveHalving(new RandomSearch(space, options.Seed) { Key = key }, objective, options.HalvingBudgets[0], 1, options.HalvingEta),
        _ => new RegularizedEvolution(space, objective, options.Seed, population: 10, sample: 3) { Key = key },
    };

    /// <summary>The chosen model measured again on the full test split, with 95 % intervals.</summary>
    private static FinalEvaluation Final(OptimizeRun run, string best)
    {
        var p = SamplePredictions.Of(best, run.Test);
        var (o, seed) = (run.Options, run.Options.Seed);
        if (o.ByFidelity) return new FinalEvaluation(p.Predicted.Length, null, null, Bootstrap.Mean(p.Agrees(run.Baseline), o.Resamples, seed));
        return new FinalEvaluation(p.Predicted.Length, Bootstrap.Mean(p.Correct(), o.Resamples, seed).Scaled(100),
            Bootstrap.Difference(run.Baseline.Correct(), p.Correct(), o.Resamples, seed).Scaled(100), null);
    }
}
