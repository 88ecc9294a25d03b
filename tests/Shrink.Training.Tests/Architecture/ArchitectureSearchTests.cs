using Shrink.Architecture;
using Shrink.Builder;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Recipes;
using Shrink.Runtime;
using Shrink.Search;
using Shrink.Techniques;
using Shrink.TestSupport;
using Shrink.Training.Architecture;
using Shrink.Training.Execution;
using Shrink.Zoo;
using TorchSharp;
using Xunit;

namespace Shrink.Training.Tests.Architecture;

/// <summary>
/// <see cref="ArchitectureSearch"/> on a tiny space with the embedded Fashion-MNIST subset: 64 training images, one epoch per
/// trial, 2–3 trials, latency at batches 1 and 8.
/// </summary>
[Collection("torch")]
public class ArchitectureSearchTests
{
    private const string Tiny = """
        stages:
          - block: [conv, depthwise, inverted, residual]
            channels: [4, 8]
            stride: [2]
            expansion: [2]
            activation: [relu, hardswish]
            se: [false, true]
            pool: [none, max]
        head: { classifier: [0, 16] }
        """;

    private static readonly RecipeData Data = new() { FashionMnist = RecipeData.Embedded, TrainLimit = 64 };

    private static ArchitectureSearchOptions Options(int trials, ArchitectureStrategy strategy = ArchitectureStrategy.Random) => new()
    {
        Trials = trials, Strategy = strategy, Seed = 3, LargeBatch = 8,
        Objectives = [ArchitectureMetrics.ParseGoal("accuracy"), ArchitectureMetrics.ParseGoal("latency_b1")],
    };

    private static ArchitectureSpace Space => ArchitectureSpace.Parse(Tiny, "tiny.yaml");

    [Fact]
    public void A_run_writes_every_trial_its_model_and_the_result_and_each_model_matches_the_executor()
    {
        using var dir = new TempDirectory();
        var progress = new List<ArchitectureProgress>();
        var result = ArchitectureSearch.Run(Space, Data, Options(2) with { FinalEpochs = 1 }, dir.File("run"), TechniqueSession.Quiet, progress.Add);

        Assert.Equal(2, result.Trials.Count);
        Assert.Equal(new[] { false, true, false, true }, progress.Select(p => p.Finished));
        Assert.All(result.Trials, t => Assert.Equal("completed", t.Status));
        Assert.NotEmpty(result.Pareto);
        Assert.Equal(1, result.Machine.Threads);
        Assert.False(string.IsNullOrWhiteSpace(result.Machine.Cpu));
        var input = new float[3 * 28 * 28];
        for (var i = 0; i < input.Length; i++) input[i] = (i % 29) / 29f;
        foreach (var t in result.Trials)
        {
            Assert.Equal($"trials/{t.Number + 1:D4}/model.onnx", t.Model);
            Assert.True(t.Metrics[ArchitectureMetrics.Params] > 0 && t.Metrics[ArchitectureMetrics.Macs] > 0);
            Assert.True(t.Metrics["latency_b1_ms"] > 0 && t.Metrics["latency_b8_ms"] > 0);
            Assert.InRange(t.Metrics[ArchitectureMetrics.Accuracy], 0, 100);
            AssertExecutorParity(dir.File(Path.Combine("run", t.Model!)), input);
        }
        var written = ArchitectureSearchResult.FromJson(File.ReadAllText(dir.File("run/result.json")));
        Assert.Equal(result.Trials.Select(t => t.Summary), written.Trials.Select(t => t.Summary));
        Assert.Equal(2, written.Final.Count);   // one per goal
        Assert.All(written.Final, f => Assert.True(File.Exists(f.Model)));
        Assert.True(File.Exists(dir.File("run/best-accuracy.onnx")) && File.Exists(dir.File("run/best-latency-b1-ms.onnx")));
        Assert.True(File.Exists(dir.File("run/pareto.json")));
    }

    private static void AssertExecutorParity(string path, float[] input)
    {
        var model = OnnxReader.Read(path);
        using var runner = OnnxRunner.Load(path);
        var (expected, _) = runner.RunFloat(input, [3, 1, 28, 28]);
        using var ex = GraphExecutor.Compile(model);
        using var scope = torch.NewDisposeScope();
        var actual = ex.Forward(torch.tensor(input, [3, 1, 28, 28]))[0].data<float>().ToArray();
        Parity.AssertClose(expected, actual, path);
    }

    [Theory]
    [InlineData(ArchitectureStrategy.Random)]
    [InlineData(ArchitectureStrategy.Evolution)]
    public void The_same_seed_proposes_the_same_trials(ArchitectureStrategy strategy)
    {
        using var dir = new TempDirectory();
        var options = Options(3, strategy) with { Constraints = [ArchitectureMetrics.ParseConstraint("params < 1")] };   // pruned: no training
        var first = ArchitectureSearch.Run(Space, Data, options, dir.File("a"), TechniqueSession.Quiet);
        var second = ArchitectureSearch.Run(Space, Data, options, dir.File("b"), TechniqueSession.Quiet);
        Assert.Equal(first.Trials.Select(t => t.Summary), second.Trials.Select(t => t.Summary));
        Assert.Equal(3, first.Trials.Select(t => t.Summary).Distinct().Count());
        var other = ArchitectureSearch.Run(Space, Data, options with { Seed = 4 }, dir.File("c"), TechniqueSession.Quiet);
        Assert.NotEqual(first.Trials.Select(t => t.Summary), other.Trials.Select(t => t.Summary));
    }

    [Fact]
    public void A_candidate_outside_a_constraint_on_parameters_is_pruned_before_any_training()
    {
        using var dir = new TempDirectory();
        var result = ArchitectureSearch.Run(Space, Data, Options(3) with { Constraints = [ArchitectureMetrics.ParseConstraint("params < 300")] },
            dir.File("run"), TechniqueSession.Quiet);
        var pruned = result.Trials.Where(t => t.Status == "pruned").ToList();
        Assert.NotEmpty(pruned);
        Assert.All(pruned, t =>
        {
            Assert.True(t.Metrics[ArchitectureMetrics.Params] >= 300);
            Assert.StartsWith("before training: params ", t.Reason);
            Assert.False(t.Metrics.ContainsKey(ArchitectureMetrics.TrainSeconds));
            Assert.False(Directory.Exists(dir.File($"run/trials/{t.Number + 1:D4}")));
        });
        Assert.All(result.Trials.Where(t => t.Status == "completed"), t => Assert.True(t.Metrics[ArchitectureMetrics.Params] < 300 && t.Feasible));
    }

    [Fact]
    public void A_run_interrupted_during_a_trial_resumes_without_rerunning_a_finished_one()
    {
        using var dir = new TempDirectory();
        using var stop = new CancellationTokenSource();
        var session = new TechniqueSession { Cancel = stop.Token };
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            ArchitectureSearch.Run(Space, Data, Options(3), dir.File("run"), session, p => { if (!p.Finished && p.Trial.Number == 1) stop.Cancel(); });
        });
        var before = ArchitectureSearchResult.FromJson(File.ReadAllText(dir.File("run/result.json")));
        Assert.Single(before.Trials, t => t.Status == "completed");

        var started = new List<int>();
        var result = ArchitectureSearch.Run(Space, Data, Options(3) with { Resume = true }, dir.File("run"), TechniqueSession.Quiet,
            p => { if (!p.Finished) started.Add(p.Trial.Number); });
        Assert.Equal(new[] { 1, 2 }, started);
        Assert.Equal(3, result.Trials.Count(t => t.Status == "completed"));
        Assert.Equal(before.Trials[0].Metrics, result.Trials[0].Metrics);

        var uninterrupted = ArchitectureSearch.Run(Space, Data, Options(3), dir.File("other"), TechniqueSession.Quiet);
        Assert.Equal(uninterrupted.Trials.Select(t => t.Summary), result.Trials.Select(t => t.Summary));

        var refused = Assert.Throws<OptionsException>(() => ArchitectureSearch.Run(Space, Data, Options(4) with { Resume = true, Seed = 9 }, dir.File("run"), TechniqueSession.Quiet));
        Assert.Equal("Seed", refused.Option);
    }

    [Fact]
    public void The_training_recipe_trains_every_candidate_and_the_final_models_and_a_resume_must_keep_it()
    {
        using var dir = new TempDirectory();
        var sgd = Options(1) with
        {
            FinalEpochs = 2, References = [],
            Training = new ArchitectureSearchOptions().Training with
            {
                Optimizer = "sgd", BatchSize = 16, Hyper = new Optim.OptimizerOptions { LearningRate = 0.05, WeightDecay = 5e-4 }, Schedule = new Optim.LearningRateSchedule { Kind = "cosine" },
            },
        };
        var a = ArchitectureSearch.Run(Space, Data, sgd, dir.File("a"), TechniqueSession.Quiet);
        var again = ArchitectureSearch.Run(Space, Data, sgd, dir.File("again"), TechniqueSession.Quiet);
        var adam = ArchitectureSearch.Run(Space, Data, Options(1) with { FinalEpochs = 2, References = [] }, dir.File("adam"), TechniqueSession.Quiet);
        Assert.Equal("sgd lr 0.05 (momentum 0.9), weight decay 0.0005, cosine schedule, batch 16; 1 epoch per trial, 2 final", a.Training);
        Assert.Equal("adam lr 0.001, constant rate, batch 128; 1 epoch per trial, 2 final", adam.Training);
        Assert.Equal(a.Trials[0].Summary, adam.Trials[0].Summary);   // the same candidate, trained two ways

        Model Trial(ArchitectureSearchResult r) => OnnxReader.Read(Path.Combine(r.Directory, r.Trials[0].Model!));
        Model Final(ArchitectureSearchResult r) => OnnxReader.Read(r.Final.Single(f => f.Goal == "accuracy").Model);
        Assert.True(SameWeights(Trial(a), Trial(again)) && SameWeights(Final(a), Final(again)), "one recipe and seed must train the same weights");
        Assert.False(SameWeights(Trial(a), Trial(adam)), "the trial was not trained with the recipe");
        Assert.False(SameWeights(Final(a), Final(adam)), "the final model was not trained with the recipe");
        Assert.False(SameWeights(Trial(a), Final(a)), "the final model is not trained afresh for its own epochs");

        var refused = Assert.Throws<OptionsException>(() => ArchitectureSearch.Run(Space, Data,
            sgd with { Resume = true, Trials = 2, Training = sgd.Training with { Hyper = sgd.Training.Hyper with { LearningRate = 0.01 } } }, dir.File("a"), TechniqueSession.Quiet));
        Assert.Equal("LearningRate", refused.Option);
        Assert.Contains("differs from the run being continued (0.05 there, 0.01 now)", refused.Message);
        var warmup = Assert.Throws<OptionsException>(() => (sgd with { Training = sgd.Training with { Schedule = new Optim.LearningRateSchedule { WarmupEpochs = 1 } } }).Validate());
        Assert.Equal("WarmupEpochs", warmup.Option);   // a trial trains 1 epoch: the warm-up would never end

        var warm2 = sgd.Training with { Schedule = new Optim.LearningRateSchedule { WarmupEpochs = 2 } };
        var nine = sgd with { EpochsPerTrial = 9, FinalEpochs = 0, Training = warm2 };
        (nine with { Strategy = ArchitectureStrategy.Random }).Validate();   // 9 epochs a trial: a 2-epoch warm-up ends
        Assert.Equal("WarmupEpochs", Assert.Throws<OptionsException>(() => (nine with { Strategy = ArchitectureStrategy.Halving }).Validate()).Option);   // the lowest rung trains 1
        Assert.Equal("WarmupEpochs", Assert.Throws<OptionsException>(() => (nine with { FinalEpochs = 2 }).Validate()).Option);   // the final models train 2
        var lr = Assert.Throws<OptionsException>(() => (sgd with { Training = sgd.Training with { Hyper = new Optim.OptimizerOptions { LearningRate = 0 } } }).Validate());
        Assert.Equal("LearningRate", lr.Option);   // before the run, not in every trial
    }

    private static bool SameWeights(Model x, Model y) =>
        x.Graph.Initializers.Select(v => v.Name).SequenceEqual(y.Graph.Initializers.Select(v => v.Name))
        && x.Graph.Initializers.All(v => v.Const!.RawData.AsSpan().SequenceEqual(y.Graph.FindInitializer(v.Name)!.Const!.RawData));

    [Fact]
    public void Candidates_are_distilled_from_a_teacher_whose_classes_are_the_datas_and_another_teacher_is_refused_before_anything_is_written()
    {
        using var dir = new TempDirectory();
        var teacher = dir.File("teacher.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet300", 0), teacher);
        var result = ArchitectureSearch.Run(Space, Data with { Teacher = teacher }, Options(1), dir.File("run"), TechniqueSession.Quiet);
        Assert.Equal("completed", result.Trials.Single().Status);

        var b = new NetworkBuilder("five", 0);
        b.Output(b.Linear(b.Flatten(b.Input("input", 1, 28, 28)), 5), "output");
        var five = dir.File("five.onnx");
        OnnxWriter.Write(b.Build(), five);
        var e = Assert.Throws<DataException>(() => ArchitectureSearch.Run(Space, Data with { Teacher = five }, Options(1), dir.File("refused"), TechniqueSession.Quiet));
        Assert.Contains("gives 5 classes and the data has 10", e.Message);
        Assert.False(Directory.Exists(dir.File("refused")));
    }
}
