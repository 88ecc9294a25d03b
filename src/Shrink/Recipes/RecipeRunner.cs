using System.Diagnostics;
using Shrink.Ir;
using Shrink.IO;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Techniques;

namespace Shrink.Recipes;

/// <summary>
/// Runs a recipe's stages in order into a directory: <c>DIR/recipe.lock.yaml</c> first (every option, the tool,
/// the inputs' hashes), then per stage <c>DIR/NN-technique.onnx</c> (through <see cref="ModelSaver"/>, so ONNX Runtime
/// loads it before it is moved into place) and <c>DIR/NN-technique.json</c> (<see cref="StageMetrics"/>). Each stage's
/// input is the previous stage's model as written. A stopped run resumes: finished stages are verified by hash and
/// skipped, and the stage that was running gets its run directory <c>DIR/NN-technique.run</c> back with
/// <see cref="TechniqueSession.Resume"/> set, so a technique that checkpoints continues at its epoch.
/// </summary>
public static class RecipeRunner
{
    /// <summary>
    /// Runs <paramref name="recipe"/> into <paramref name="directory"/> (new or empty, unless <paramref name="resume"/>).
    /// Cancelling <see cref="TechniqueSession.Cancel"/> stops it with <see cref="OperationCanceledException"/> between
    /// stages or inside a training stage (which checkpoints first); run it again with <paramref name="resume"/> to go on.
    /// </summary>
    public static RecipeRunResult Run(Recipe recipe, string directory, TechniqueSession session, bool resume = false)
    {
        var locked = RecipeLock.Resolve(recipe);
        var guard = OutputGuard.Protecting(locked.Model.Path, locked.Data.Calibration, locked.Data.Teacher);
        var dir = RunDirectory.Prepare(locked, directory, resume, session, guard);
        var model = RecipeInputs.LoadModel(locked.Model);
        var inputs = RecipeInputs.Load(locked, model);
        var inputHash = locked.Model.Sha256!;
        var outcomes = new List<StageOutcome>();
        for (var i = 0; i < locked.Stages.Count; i++)
        {
            session.Cancel.ThrowIfCancellationRequested();
            var paths = new StagePaths(dir, i, locked.Stages[i].Technique);
            var outcome = (resume ? Finished(paths, inputHash, session) : null) ?? RunStage(locked, i, model, inputs, paths, inputHash, session, resume, guard);
            outcomes.Add(outcome);
            model = OnnxReader.Read(paths.Model);
            inputHash = outcome.Metrics.ModelSha256;
        }
        return new RecipeRunResult(dir, Path.Combine(dir, RecipeLock.FileName), outcomes);
    }

    /// <summary>
    /// What <see cref="Run"/> would do, without writing anything: the locked recipe (options resolved, inputs hashed)
    /// and the reasons the first stage cannot run on the input model (later stages are checked as they run, on their
    /// real input). Options a technique refuses are a <see cref="RecipeException"/> naming the stage.
    /// </summary>
    public static RecipePlan Plan(Recipe recipe)
    {
        var locked = RecipeLock.Resolve(recipe);
        var model = RecipeInputs.LoadModel(locked.Model);
        var inputs = RecipeInputs.Load(locked, model);
        var problems = new List<string>();
        for (var i = 0; i < locked.Stages.Count; i++)
        {
            var stage = locked.Stages[i];
            var reasons = Guarded(locked, i, () => TechniqueRegistry.Find(stage.Technique).Check(model, stage.Options, inputs));
            if (i == 0) problems.AddRange(reasons.Select(r => $"{RecipeStage.Label(i, stage.Technique)}: {r}"));
        }
        return new RecipePlan(locked, problems);
    }

    private static StageOutcome RunStage(Recipe recipe, int index, Model model, TechniqueInputs inputs, StagePaths paths, string inputHash,
        TechniqueSession session, bool resume, OutputGuard guard)
    {
        var stage = recipe.Stages[index];
        var label = RecipeStage.Label(index, stage.Technique);
        var epochs = new List<TechniqueEpoch>();
        var stageSession = new TechniqueSession
        {
            Notes = n => session.Note($"{label}: {n}"), Progress = session.Progress, Cancel = session.Cancel, Naming = session.Naming,
            RunDirectory = paths.Run, Resume = resume && Directory.Exists(paths.Run), EpochEnd = e => { lock (epochs) epochs.Add(e); },
        };
        var clock = Stopwatch.StartNew();
        var result = Guarded(recipe, index, () => TechniqueRegistry.Find(stage.Technique).Run(model, stage.Options, inputs, stageSession));
        var facts = new StageMetrics
        {
            Stage = index + 1, Technique = stage.Technique, Model = Path.GetFileName(paths.Model), InputSha256 = inputHash,
            Seconds = clock.Elapsed.TotalSeconds, Artifacts = StageMetrics.ArtifactsJson(result.Artifacts), Notes = result.Notes,
            Training = epochs.Count == 0 ? null : epochs.ToList(),
        };
        var metrics = ModelSaver.Save(result.Model, paths.Model, file => StageMetrics.Measure(file, model, inputs.Data?.Test, inputs.Runner, facts),
            Onnx.OnnxWriteOptions.ForResultOf(model), guard: guard);
        if (result.Artifact<Passes.Deployment.SplitPlan>() is { } plan)
        {
            Runtime.Split.SplitWriter.Write(result.Model, plan, OutputDirectory.Create(paths.Parts, "the stage's parts directory"), paths.Model, guard);
            session.Note($"{label}: wrote {plan.Parts.Count} parts and {Runtime.Split.SplitManifest.FileName} in {paths.Parts}");
        }
        AtomicFile.WriteAllText(paths.Metrics, metrics.ToJson(), guard);
        RunDirectory.Remove(paths.Run);
        session.Note($"{label}: wrote {paths.Model} in {metrics.Seconds:F1} s");
        return new StageOutcome(index, stage.Technique, paths.Model, paths.Metrics, metrics, Skipped: false);
    }

    /// <summary>The outcome of a stage a stopped run finished, when its metrics and model still match (by SHA-256) and its input is this input; else null.</summary>
    private static StageOutcome? Finished(StagePaths paths, string inputHash, TechniqueSession session)
    {
        if (!File.Exists(paths.Metrics) || !File.Exists(paths.Model)) return null;
        var label = RecipeStage.Label(paths.Index, paths.Technique);
        var metrics = StageMetrics.TryRead(paths.Metrics);
        string? hash;
        try { hash = RecipeLock.ModelFileHash(paths.Model); }
        catch (DataException e)
        {
            session.Note($"{label}: {Path.GetFileName(paths.Model)} cannot be verified ({e.Message}); running the stage again");
            return null;
        }
        if (metrics is null || metrics.Technique != paths.Technique || metrics.InputSha256 != inputHash || hash != metrics.ModelSha256)
        {
            session.Note($"{label}: {Path.GetFileName(paths.Model)} (or its external data) does not match {Path.GetFileName(paths.Metrics)} or its input; running the stage again");
            return null;
        }
        var data = ExternalDataFiles.Referenced(paths.Model).Count;
        session.Note($"{label}: finished before, {Path.GetFileName(paths.Model)}{(data > 0 ? $" and its {data} external data file{(data == 1 ? "" : "s")}" : "")} verified (SHA-256); skipped");
        return new StageOutcome(paths.Index, paths.Technique, paths.Model, paths.Metrics, metrics, Skipped: true);
    }

    /// <summary>Runs a technique call, naming the stage in an options error.</summary>
    private static T Guarded<T>(Recipe recipe, int index, Func<T> call)
    {
        try { return call(); }
        catch (OptionsException e)
        {
            var stage = recipe.Stages[index];
            var (key, line, problem) = stage.Place(e);
            throw new RecipeException(recipe.Source, line, RecipeStage.Label(index, stage.Technique), key, problem);
        }
    }
}

/// <summary>The files of stage <see cref="Index"/> (0-based) in a run's directory: <c>NN-technique.onnx</c>, <c>.json</c> and <c>.run</c>.</summary>
internal sealed record StagePaths(string Directory, int Index, string Technique)
{
    public string Name => $"{Index + 1:D2}-{Technique}";
    public string Model => Path.Combine(Directory, Name + ".onnx");
    public string Metrics => Path.Combine(Directory, Name + ".json");
    public string Run => Path.Combine(Directory, Name + ".run");
    public string Parts => Path.Combine(Directory, Name + ".parts");
}

/// <summary>A finished or resumed run: its directory, its lock file and each stage's outcome.</summary>
public sealed record RecipeRunResult(string Directory, string LockPath, IReadOnlyList<StageOutcome> Stages)
{
    /// <summary>The last stage's model: the recipe's result.</summary>
    public string FinalModel => Stages[^1].ModelPath;
}

/// <summary>One stage of a run: where its model and metrics are, what they say, and whether a resumed run found it finished.</summary>
public sealed record StageOutcome(int Index, string Technique, string ModelPath, string MetricsPath, StageMetrics Metrics, bool Skipped);

/// <summary>A dry run: the recipe as it would be locked, and why its first stage cannot run (empty when it can).</summary>
public sealed record RecipePlan(Recipe Locked, IReadOnlyList<string> Problems);
