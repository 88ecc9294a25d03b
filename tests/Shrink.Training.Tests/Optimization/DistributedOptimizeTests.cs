using Shrink.Builder;
using Shrink.Onnx;
using Shrink.Recipes;
using Shrink.Search;
using Shrink.Techniques;
using Shrink.Training.Optimization;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Training.Tests.Optimization;

/// <summary>
/// <see cref="Optimizer"/> as a coordinator (<see cref="SearchRole.Coordinator"/>) on an SQLite store, with a
/// <see cref="TrialWorker"/> in this process running the <see cref="OptimizeJob"/> kind: the trials, their deterministic
/// metrics and the best model equal a run on one machine with the same seed; a worker that cannot reach the artifacts, or
/// finds one damaged, fails the trial with the reason.
/// </summary>
[Collection("torch")]
public class DistributedOptimizeTests
{
    public DistributedOptimizeTests() => TrainingTechniques.Register();

    private static readonly RecipeData Data = new() { FashionMnist = RecipeData.Embedded, TrainLimit = 128 };

    /// <summary>The metrics that do not depend on the machine's timing (latency is measured, so it is not compared).</summary>
    internal static readonly string[] Exact = [TrialMetrics.Bytes, TrialMetrics.FileBytes, TrialMetrics.Accuracy, TrialMetrics.Drop, TrialMetrics.DropLow, TrialMetrics.DropHigh, TrialMetrics.Excess, TrialMetrics.Samples];

    private static OptimizeOptions Tiny => new()
    {
        MaxAccuracyDrop = 100, Trials = 3, MaxEpochs = 1, LatencyBatches = [1], Seed = 3, Strategy = OptimizeStrategy.Random,
    };

    private static string Lenet5(TempDirectory dir)
    {
        var path = dir.File("lenet5.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet5", 0), path);
        return path;
    }

    [Fact]
    public void A_coordinator_with_a_worker_and_resumed_ends_with_the_trials_and_best_model_of_a_local_run()
    {
        using var dir = new TempDirectory();
        var model = RecipeModel.File(Lenet5(dir));
        var local = Optimizer.Run(model, Data, Tiny, dir.File("local"), TechniqueSession.Quiet);

        var storage = "sqlite:" + dir.File("shared.db");
        var options = Tiny with { Role = SearchRole.Coordinator, Storage = storage, Artifacts = dir.File("artifacts") };
        using var stop = new CancellationTokenSource();
        using var workerStore = TrialStorage.Parse(storage).Open();   // created before the coordinator opens it
        var worker = Task.Run(() => new TrialWorker(workerStore, OptimizeJob.Register(new TrialJobs()),
            new TrialWorkerOptions { Poll = TimeSpan.FromMilliseconds(50), Name = "test-worker" }).RunAsync(stop.Token));
        OptimizeResult first, distributed;
        try
        {
            first = Optimizer.Run(model, Data, options with { Trials = 2 }, dir.File("coordinated"), TechniqueSession.Quiet);
            distributed = Optimizer.Run(model, Data, options with { Resume = true }, dir.File("coordinated"), TechniqueSession.Quiet);   // a coordinator restarted
        }
        finally
        {
            stop.Cancel();
        }
        Assert.Equal(3, worker.GetAwaiter().GetResult().Finished);
        Assert.Equal(first.Trials.Select(t => (t.Hash, t.Finished)), distributed.Trials.Take(2).Select(t => (t.Hash, t.Finished)));   // kept, not run again

        Assert.Equal(local.Trials.Select(t => (t.Hash, t.Status, t.Budget)), distributed.Trials.Select(t => (t.Hash, t.Status, t.Budget)));
        foreach (var (a, b) in local.Trials.Zip(distributed.Trials))
            foreach (var m in Exact.Where(a.Metrics.ContainsKey)) Assert.Equal(a.Metrics[m], b.Metrics[m]);
        Assert.Equal(local.Best!.Number, distributed.Best!.Number);
        Assert.Equal(local.Best.Model, distributed.Best.Model);   // the same relative path: the trial's folder was written into the run directory
        Assert.Equal(File.ReadAllBytes(dir.File("local/best.onnx")), File.ReadAllBytes(dir.File("coordinated/best.onnx")));
        Assert.Equal(File.ReadAllText(dir.File("local/best.recipe.yaml")).Replace(dir.File("local"), ""), File.ReadAllText(dir.File("coordinated/best.recipe.yaml")).Replace(dir.File("coordinated"), ""));
        Assert.Equal(local.Final!.Drop, distributed.Final!.Drop);
        Assert.True(File.Exists(dir.File("coordinated/report.html")));
        Assert.False(File.Exists(dir.File("coordinated/trials.db")));
        using var shared = TrialStorage.Parse(storage).Open();
        var trials = shared.List(shared.FindStudy(Optimizer.StudyName)!);
        Assert.All(trials.Where(t => t.ModelPath is not null), t => Assert.Equal("test-worker/0", t.Worker));
        Assert.All(trials.Where(t => t.ModelPath is not null), t => Assert.StartsWith("sha256:", t.ModelPath));   // the store names models by content
    }

    /// <summary>784 → 32 → 10 with nothing between the layers (merge-consecutive folds them into one), its weights in an external data file beside it.</summary>
    private static RecipeModel TwoLinearsWithData(TempDirectory dir)
    {
        var b = new NetworkBuilder("two-linears", 3);
        b.Output(b.Linear(b.Linear(b.Input("input", 784), 32), 10));
        Directory.CreateDirectory(dir.File("model"));
        var path = dir.File("model/two-linears.onnx");
        OnnxWriter.Write(b.Build(), path, new OnnxWriteOptions { ExternalData = true });
        return RecipeModel.File(path);
    }

    [Fact]
    public void Merging_on_a_model_with_external_data_is_evaluated_by_a_worker_as_on_one_machine_and_a_damaged_artifact_fails_only_its_trial_on_resume()
    {
        using var dir = new TempDirectory();
        var model = TwoLinearsWithData(dir);
        Assert.NotEmpty(ExternalDataFiles.Referenced(model.Path!));
        var options = Tiny with { Trials = 1, MaxEpochs = 0, Techniques = [CompressionTechnique.Merge] };   // one trial: merge on
        var local = Optimizer.Run(model, Data, options, dir.File("local"), TechniqueSession.Quiet);

        var storage = "sqlite:" + dir.File("shared.db");
        var coordinated = options with { Role = SearchRole.Coordinator, Storage = storage, Artifacts = dir.File("artifacts") };
        using var stop = new CancellationTokenSource();
        using var workerStore = TrialStorage.Parse(storage).Open();
        var worker = Task.Run(() => new TrialWorker(workerStore, OptimizeJob.Register(new TrialJobs()),
            new TrialWorkerOptions { Poll = TimeSpan.FromMilliseconds(50), Name = "test-worker" }).RunAsync(stop.Token));
        OptimizeResult distributed;
        try { distributed = Optimizer.Run(model, Data, coordinated, dir.File("coordinated"), TechniqueSession.Quiet); }
        finally { stop.Cancel(); }
        worker.GetAwaiter().GetResult();

        var trial = Assert.Single(distributed.Trials);
        Assert.True(trial.Status == "completed", trial.Error);
        Assert.Equal("on", trial.Configuration["merge"].GetString());
        Assert.Equal(1, OnnxReader.Read(Path.Combine(dir.File("coordinated"), trial.Model!)).Graph.Nodes.Count(n => n.OpType == "Gemm"));
        Assert.Equal(local.Trials.Select(t => (t.Hash, t.Status)), distributed.Trials.Select(t => (t.Hash, t.Status)));
        foreach (var m in Exact.Where(local.Trials[0].Metrics.ContainsKey)) Assert.Equal(local.Trials[0].Metrics[m], trial.Metrics[m]);
        Assert.Equal(File.ReadAllBytes(dir.File("local/best.onnx")), File.ReadAllBytes(dir.File("coordinated/best.onnx")));

        // The trial's folder lost and its model damaged in the artifacts directory: a resume reports the trial failed and ends.
        Directory.Delete(dir.File("coordinated/trials"), recursive: true);
        using var shared = TrialStorage.Parse(storage).Open();
        var kept = new ArtifactStore(dir.File("artifacts")).Open(shared.List(shared.FindStudy(Optimizer.StudyName)!).Single().ModelPath!);
        File.WriteAllText(kept, "damaged on the way");
        var resumed = Optimizer.Run(model, Data, coordinated with { Resume = true }, dir.File("coordinated"), TechniqueSession.Quiet);

        var failed = Assert.Single(resumed.Trials);
        Assert.Equal("failed", failed.Status);
        Assert.StartsWith($"its files could not be written into the run directory: the artifact {kept} is damaged: its content hashes to sha256:", failed.Error);
        Assert.Null(resumed.Best);
        Assert.Equal("failed", OptimizeResult.FromJson(File.ReadAllText(dir.File("coordinated/result.json"))).Trials.Single().Status);
    }

    [Fact]
    public void A_worker_that_cannot_reach_the_artifacts_or_finds_one_damaged_fails_the_trial_with_the_reason_and_goes_on()
    {
        using var dir = new TempDirectory();
        var artifacts = new ArtifactStore(dir.File("artifacts"));
        var reference = artifacts.Put(Lenet5(dir));
        var store = new MemoryTrialStore();
        TrialJob Job(string where) => TrialJob.Of(OptimizeJob.Kind, new Dictionary<string, string> { ["artifacts"] = where, ["model"] = reference, ["data"] = "{}", ["options"] = "{}", ["float_layers"] = "[]" });
        var away = Study.Open(store, "away", SyntheticJob.Space(), job: Job(dir.File("not-mounted")).ToJson());
        var damaged = Study.Open(store, "damaged", SyntheticJob.Space(), job: Job(artifacts.Directory).ToJson());
        foreach (var s in new[] { away, damaged }) foreach (var x in new[] { 1, 2 }) s.Enqueue(Configuration.Of(("x", x)));
        var kept = Directory.GetFiles(Path.Combine(artifacts.Directory, "sha256"), "*.onnx", SearchOption.AllDirectories).Single();
        File.WriteAllText(kept, "damaged on the way");

        var summary = new TrialWorker(store, OptimizeJob.Register(new TrialJobs()), new TrialWorkerOptions { IdleExit = TimeSpan.Zero, Poll = TimeSpan.FromMilliseconds(10) })
            .RunAsync().GetAwaiter().GetResult();

        Assert.Equal(4, summary.Finished);   // every trial is finished (failed), none left claimed: the worker went on
        Assert.All(away.Trials(), t => Assert.Equal((TrialStatus.Failed, $"the artifacts directory {dir.File("not-mounted")} of study 'away' cannot be reached from this machine; mount it at the same path on every worker"), (t.Status, t.Error)));
        Assert.All(damaged.Trials(), t => Assert.Equal(TrialStatus.Failed, t.Status));
        Assert.All(damaged.Trials(), t => Assert.StartsWith($"the artifact {kept} is damaged: its content hashes to sha256:", t.Error));
    }

    [Fact]
    public void A_worker_of_another_version_refuses_an_optimize_study_naming_both_versions()
    {
        var store = new MemoryTrialStore();
        var study = Study.Open(store, "o", SyntheticJob.Space(), job: TrialJob.Of(OptimizeJob.Kind, new Dictionary<string, string>()).ToJson());
        study.Enqueue(Configuration.Of(("x", 1)));
        var worker = new TrialWorker(store, OptimizeJob.Register(new TrialJobs()), new TrialWorkerOptions { Study = "o", Version = "0.9.0-old", IdleExit = TimeSpan.Zero });
        var e = Assert.Throws<TrialStoreException>(() => worker.RunAsync().GetAwaiter().GetResult());
        Assert.Equal($"this worker cannot serve study 'o': its coordinator runs Shrink {ShrinkVersion.Current} and this worker runs Shrink 0.9.0-old; run the same version on every machine", e.Message);
    }

    [Fact]
    public void A_coordinator_without_a_store_or_an_artifacts_directory_is_refused_naming_the_option()
    {
        var e = Assert.Throws<OptionsException>(() => (Tiny with { Role = SearchRole.Coordinator, Artifacts = "a" }).Validate());
        Assert.StartsWith("role coordinator needs storage: the shared trial store", e.Message);
        e = Assert.Throws<OptionsException>(() => (Tiny with { Role = SearchRole.Coordinator, Storage = "sqlite:x.db" }).Validate());
        Assert.StartsWith("role coordinator needs artifacts: a directory every worker reaches", e.Message);
        e = Assert.Throws<OptionsException>(() => (Tiny with { Artifacts = "a" }).Validate());
        Assert.StartsWith("artifacts is for role coordinator", e.Message);
    }
}
