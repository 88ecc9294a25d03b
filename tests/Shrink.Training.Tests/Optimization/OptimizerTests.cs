using System.Text.Json;
using Shrink.Onnx;
using Shrink.Recipes;
using Shrink.Search;
using Shrink.Techniques;
using Shrink.Training.Optimization;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Training.Tests.Optimization;

/// <summary>
/// <see cref="Optimizer"/> on the zoo's lenet5 (untrained: about 10 % accuracy, which is all acceptance needs) with the
/// embedded Fashion-MNIST subset, a tiny budget (2–3 trials, at most 1 epoch on 128 training images, latency at batch 1).
/// </summary>
[Collection("torch")]
public class OptimizerTests
{
    public OptimizerTests() => TrainingTechniques.Register();

    private static readonly RecipeData Data = new() { FashionMnist = RecipeData.Embedded, TrainLimit = 128 };

    private static OptimizeOptions Tiny(int trials) => new()
    {
        MaxAccuracyDrop = 100, Trials = trials, MaxEpochs = 1, LatencyBatches = [1], Seed = 1, Strategy = OptimizeStrategy.Random,
    };

    private static RecipeModel Lenet5(TempDirectory dir)
    {
        var path = dir.File("lenet5.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet5", 0), path);
        return RecipeModel.File(path);
    }

    [Fact]
    public void A_run_keeps_the_best_model_within_the_budget_and_its_recipe_rebuilds_it_bit_for_bit()
    {
        using var dir = new TempDirectory();
        var progress = new List<OptimizeProgress>();
        var result = Optimizer.Run(Lenet5(dir), Data, Tiny(2), dir.File("run"), TechniqueSession.Quiet, progress.Add);

        Assert.True(result.Met);
        Assert.Null(result.Miss);
        Assert.Equal(2, result.Trials.Count);
        Assert.Equal("static int8, 0 epochs", result.Trials[0].Summary);   // the enqueued first trial
        Assert.Equal(new[] { false, true, false, true }, progress.Select(p => p.Finished));
        var best = result.Best!;
        Assert.True(best.Metrics[TrialMetrics.Bytes] <= result.Trials.Where(t => t.Status == "completed").Min(t => t.Metrics[TrialMetrics.Bytes]));
        Assert.True(best.Metrics[TrialMetrics.DropLow] <= best.Metrics[TrialMetrics.Drop] && best.Metrics[TrialMetrics.Drop] <= best.Metrics[TrialMetrics.DropHigh]);
        Assert.Equal(1000, result.Final!.Samples);
        Assert.Equal(best.Metrics[TrialMetrics.Drop], result.Final.Drop!.Estimate, 9);   // the re-evaluation agrees with the trial's

        var written = OptimizeResult.FromJson(File.ReadAllText(dir.File("run/result.json")));
        Assert.Equal(best.Number, written.Best!.Number);
        Assert.NotEmpty(JsonDocument.Parse(File.ReadAllText(dir.File("run/pareto.json"))).RootElement.GetProperty("accuracyVsSize").EnumerateArray());

        var replay = RecipeRunner.Run(Recipe.Load(dir.File("run/best.recipe.yaml")), dir.File("replay"), TechniqueSession.Quiet);
        Assert.Equal(File.ReadAllBytes(dir.File("run/best.onnx")), File.ReadAllBytes(replay.FinalModel));
    }

    [Fact]
    public void A_budget_no_trial_meets_keeps_the_closest_attempt_and_says_by_how_much_it_misses()
    {
        using var dir = new TempDirectory();
        // Fidelity 1 with --strict: the 95 % interval's lower end of the agreement with the original must be 1, which only
        // an unchanged model reaches; the one trial quantizes to int8, which flips some of the untrained model's close calls.
        var options = Tiny(1) with { MaxAccuracyDrop = null, MinFidelity = 1, Strict = true };
        var result = Optimizer.Run(Lenet5(dir), Data, options, dir.File("run"), TechniqueSession.Quiet);

        Assert.False(result.Met);
        var best = result.Best!;
        Assert.Equal(1 - best.Metrics[TrialMetrics.FidelityLow], result.Miss!.Value, 9);
        Assert.True(result.Miss > 0);
        Assert.StartsWith("fidelity 0.", Assert.Single(result.MissReasons));
        Assert.Contains("(the 95 % interval's low end) is under 1", result.MissReasons[0]);
        Assert.True(File.Exists(dir.File("run/best.onnx")));
        Assert.True(result.Final!.Fidelity!.High <= 1);
    }

    [Fact]
    public void A_resumed_run_keeps_the_finished_trials_and_runs_only_the_rest()
    {
        using var dir = new TempDirectory();
        var model = Lenet5(dir);
        using var stop = new CancellationTokenSource();
        var session = new TechniqueSession { Cancel = stop.Token };
        // Interrupted as the second trial starts (the first is finished and written).
        Assert.ThrowsAny<OperationCanceledException>(() =>
            Optimizer.Run(model, Data, Tiny(3), dir.File("run"), session, p => { if (!p.Finished && p.Trial == 1) stop.Cancel(); }));
        var first = File.ReadAllBytes(dir.File("run/trials/0001/01-quantize.onnx"));
        var firstTime = File.GetLastWriteTimeUtc(dir.File("run/trials/0001/01-quantize.onnx"));

        var started = new List<int>();
        var result = Optimizer.Run(model, Data, Tiny(3) with { Resume = true }, dir.File("run"), TechniqueSession.Quiet, p => { if (!p.Finished) started.Add(p.Trial); });
        Assert.Equal(new[] { 1, 2 }, started);   // trial 0 is not run again
        Assert.Equal(3, result.Trials.Count);
        Assert.All(result.Trials, t => Assert.NotEqual("pending", t.Status));
        Assert.Equal(first, File.ReadAllBytes(dir.File("run/trials/0001/01-quantize.onnx")));
        Assert.Equal(firstTime, File.GetLastWriteTimeUtc(dir.File("run/trials/0001/01-quantize.onnx")));

        var other = Assert.Throws<OptionsException>(() => Optimizer.Run(model, Data, Tiny(4) with { Resume = true, Goal = OptimizeGoal.Latency }, dir.File("run"), TechniqueSession.Quiet));
        Assert.Equal(nameof(OptimizeOptions.Goal), other.Option);
    }

    [Fact]
    public void The_latency_goal_measures_each_layer_in_int8_and_accepts_only_models_measured_faster()
    {
        using var dir = new TempDirectory();
        var result = Optimizer.Run(Lenet5(dir), Data, Tiny(2) with { Goal = OptimizeGoal.Latency }, dir.File("run"), TechniqueSession.Quiet);

        var verdicts = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(dir.File("run/layer-latency.json")))!;
        Assert.Equal(new[] { "conv1", "conv2", "gemm1", "gemm2" }.Order(), verdicts.Keys.Order());
        Assert.All(verdicts.Values, v => Assert.Contains(v, new[] { "slower", "not slower", "not quantized" }));
        // A layer measured slower in int8 is float in every recipe: the first trial (static int8) names it so.
        var slower = verdicts.Where(kv => kv.Value == "slower").Select(kv => kv.Key).ToList();
        var first = (Passes.Quantization.QuantizeOptions)Recipe.Load(dir.File("run/trials/0001/recipe.lock.yaml")).Stages.Single().Options;
        Assert.Equal(slower.Order(), (first.Layers ?? new Dictionary<string, Passes.Quantization.WeightPrecision>()).Keys.Order());
        Assert.All(first.Layers?.Values ?? [], p => Assert.Equal(Passes.Quantization.WeightPrecision.Float, p));
        Assert.All(result.Trials.Where(t => t.Feasible), t => Assert.Equal(0, t.Metrics[TrialMetrics.NotFaster]));
        Assert.Equal(result.Met, result.Best is { } b && b.Metrics[TrialMetrics.NotFaster] == 0 && b.Metrics[TrialMetrics.Excess] <= 0);
    }

    [Fact]
    public void Options_are_refused_naming_the_property()
    {
        Assert.Equal(nameof(OptimizeOptions.MinFidelity), Assert.Throws<OptionsException>(() => (Tiny(1) with { MinFidelity = 0.9 }).Validate()).Option);
        Assert.Equal(nameof(OptimizeOptions.MaxAccuracyDrop), Assert.Throws<OptionsException>(() => (Tiny(1) with { MaxAccuracyDrop = null }).Validate()).Option);
        Assert.Equal(nameof(OptimizeOptions.Workers), Assert.Throws<OptionsException>(() => (Tiny(1) with { Workers = 0 }).Validate()).Option);
        Assert.Equal(nameof(OptimizeOptions.Trials), Assert.Throws<OptionsException>(() => (Tiny(1) with { Trials = null }).Validate()).Option);
    }

    [Fact]
    public void Every_configuration_of_the_space_is_a_recipe_of_registered_techniques()
    {
        var model = ModelZoo.Create("lenet5", 0);
        var sensitivity = new Passes.Pruning.SensitivityReport(0.1, 10, "magnitude", []);
        var space = CompressionSpace.For(model, Tiny(1), sensitivity);
        Assert.Equal(4, space.Layers.Count);
        Assert.All(space.SparsityBounds.Values, b => Assert.Equal(0.2, b, 9));   // no measured tolerance: the 0.2 of headroom
        var random = new SearchRandom(5);
        for (var i = 0; i < 200; i++)
        {
            var c = space.Space.Sample(random);
            var recipe = CompressionPlan.Recipe(c, RecipeModel.FromZoo("lenet5"), Data, new RecipeRuntime(), 0);
            Assert.All(recipe.Stages, s => Assert.IsType(TechniqueRegistry.Find(s.Technique).OptionsType, s.Options));
            Assert.Equal(recipe.Stages.Select(s => s.Technique), Recipe.Parse(recipe.ToYaml()).Stages.Select(s => s.Technique));
        }
    }
}
