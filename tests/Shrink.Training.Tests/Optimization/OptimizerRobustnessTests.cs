using Shrink.Onnx;
using Shrink.Passes.Pruning;
using Shrink.Recipes;
using Shrink.Search;
using Shrink.Techniques;
using Shrink.Training.FineTuning;
using Shrink.Training.Optimization;
using Shrink.Training.Pruning;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Training.Tests.Optimization;

/// <summary>
/// <see cref="Optimizer"/> under successive halving and under failing trials, on the zoo's untrained lenet5 with the
/// embedded Fashion-MNIST subset (128 training images, 1,000 test images) and a budget every trial meets (100 points),
/// so the size goal alone ranks the trials.
/// </summary>
[Collection("torch")]
public class OptimizerRobustnessTests
{
    public OptimizerRobustnessTests() => TrainingTechniques.Register();

    private static readonly RecipeData Data = new() { FashionMnist = RecipeData.Embedded, TrainLimit = 128 };

    private static OptimizeOptions Tiny(int trials, int seed = 1) => new()
    {
        MaxAccuracyDrop = 100, Trials = trials, MaxEpochs = 1, LatencyBatches = [1], Seed = seed, Strategy = OptimizeStrategy.Random,
    };

    private static RecipeModel Lenet5(TempDirectory dir)
    {
        var path = dir.File("lenet5.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet5", 0), path);
        return RecipeModel.File(path);
    }

    [Fact]
    public void Successive_halving_promotes_the_best_of_a_rung_with_the_same_configuration_and_chooses_only_full_budget_trials()
    {
        using var dir = new TempDirectory();
        // η = 2 over two rungs: budgets 1/2 and 1. The two enqueued starting trials (static int8, Deep Compression's
        // pipeline) run at the full budget; the next two at 1/2 (64 training images, 500 test images); the better of those
        // two is tried again at the full budget.
        var options = Tiny(5) with { Strategy = OptimizeStrategy.Halving, HalvingEta = 2, HalvingRungs = 2 };
        Assert.Equal(2, options.StartingTrials);
        Assert.Equal(5, options.HalvingMinTrials);
        var result = Optimizer.Run(Lenet5(dir), Data, options, dir.File("run"), TechniqueSession.Quiet);

        Assert.Equal(new[] { 0.5, 1.0 }, result.Budgets);
        Assert.Equal(new[] { 1.0, 1.0, 0.5, 0.5, 1.0 }, result.Trials.Select(t => t.Budget));
        var rung0 = result.Trials.Where(t => t.Budget == 0.5).ToList();
        Assert.All(rung0, t => Assert.Equal("completed", t.Status));
        Assert.All(rung0, t => Assert.Equal(500, t.Metrics[TrialMetrics.Samples]));
        Assert.All(rung0, t => Assert.False(t.Feasible));   // measured on half the samples: never the chosen model
        Assert.All(rung0, t => Assert.EndsWith(", budget 1/2", t.Summary));
        Assert.Equal(64, Recipe.Load(dir.File("run/trials/0003/recipe.lock.yaml")).Data!.TrainLimit);

        var better = rung0.OrderBy(t => t.Metrics[TrialMetrics.Bytes]).ThenBy(t => t.Number).First();
        var promoted = result.Trials[4];
        Assert.Equal("promotion", promoted.Origin);
        Assert.Equal(better.Number, promoted.Parent);
        Assert.Equal(better.Hash, promoted.Hash);
        Assert.Equal(1000, promoted.Metrics[TrialMetrics.Samples]);
        Assert.Equal(128, Recipe.Load(dir.File("run/trials/0005/recipe.lock.yaml")).Data!.TrainLimit);

        var best = result.Best!;
        Assert.Equal(1.0, best.Budget);
        Assert.Equal(1000, best.Metrics[TrialMetrics.Samples]);
        Assert.Equal(result.Trials.Where(t => t.Budget == 1).MinBy(t => t.Metrics[TrialMetrics.Bytes])!.Number, best.Number);
        Assert.Equal(1000, result.Final!.Samples);
        Assert.All(result.Pareto.AccuracyVsSize.Concat(result.Pareto.AccuracyVsLatency), p => Assert.Equal(1.0, result.Trials[p.Trial].Budget));
        var replay = RecipeRunner.Run(Recipe.Load(dir.File("run/best.recipe.yaml")), dir.File("replay"), TechniqueSession.Quiet);
        Assert.Equal(File.ReadAllBytes(dir.File("run/best.onnx")), File.ReadAllBytes(replay.FinalModel));
    }

    [Fact]
    public void Halving_needs_enough_trials_for_one_configuration_to_reach_the_full_budget()
    {
        var e = Assert.Throws<OptionsException>(() => (Tiny(14) with { Strategy = OptimizeStrategy.Halving }).Validate());
        Assert.Equal(nameof(OptimizeOptions.Trials), e.Option);
        Assert.Contains("must be at least 15 with successive halving, got 14: the 2 starting trials, then 9 at budget 1/9, 3 at budget 1/3 and 1 at the full budget", e.Message);
        (Tiny(15) with { Strategy = OptimizeStrategy.Halving }).Validate();
        Assert.Equal(14, (Tiny(14) with { Techniques = [CompressionTechnique.Quantize, CompressionTechnique.Structured] }).HalvingMinTrials);
        Assert.Equal(14, (Tiny(14) with { Goal = OptimizeGoal.Latency }).HalvingMinTrials);
        (Tiny(2) with { Strategy = OptimizeStrategy.Halving, Trials = null, WallTime = TimeSpan.FromMinutes(5) }).Validate();
        Assert.Equal(nameof(OptimizeOptions.HalvingEta), Assert.Throws<OptionsException>(() => (Tiny(20) with { Strategy = OptimizeStrategy.Halving, HalvingEta = 1 }).Validate()).Option);
        Assert.Equal(nameof(OptimizeOptions.HalvingRungs), Assert.Throws<OptionsException>(() => (Tiny(20) with { Strategy = OptimizeStrategy.Halving, HalvingRungs = 1 }).Validate()).Option);
        (Tiny(2) with { HalvingEta = 1 }).Validate();   // read by successive halving only
    }

    [Fact]
    public void A_diverging_fine_tuning_and_a_model_that_outputs_NaN_fail_their_trials_and_the_search_goes_on()
    {
        using var dir = new TempDirectory();
        var model = Lenet5(dir);
        var hooks = new TrialHooks
        {
            // Trial 2: structured pruning whose fine-tuning steps at a learning rate of 1e30 (the loss is not finite by the second batch).
            Recipe = (context, recipe) => context.Number != 1 ? recipe : recipe with
            {
                Stages = [new RecipeStage("prune", new PruneOptions
                {
                    Method = PruneMethod.L1Filter, Sparsity = 0.5,
                    FineTune = new FineTuneOptions { Epochs = 1, Batch = 16, LearningRate = 1e30, Seed = 1 },
                })],
            },
            // Trial 3: the model the recipe wrote is replaced by the original with every weight NaN.
            Model = (context, path) => { if (context.Number == 2) OnnxWriter.Write(WithNaNWeights(OnnxReader.Read(model.Path!)), path); },
        };
        var result = Optimizer.Run(model, Data, Tiny(4), dir.File("run"), TechniqueSession.Quiet, null, hooks);

        Assert.Equal(new[] { "completed", "failed", "failed", "completed" }, result.Trials.Select(t => t.Status));
        Assert.Contains("the loss became", result.Trials[1].Error);
        Assert.Contains("lower the learning rate", result.Trials[1].Error);
        Assert.Equal("the model's outputs are not finite numbers (NaN or infinity) on 1000 of 1000 test samples", result.Trials[2].Error);
        Assert.Contains(result.Best!.Number, new[] { 0, 3 });
        Assert.True(File.Exists(dir.File("run/best.onnx")));

        var written = OptimizeResult.FromJson(File.ReadAllText(dir.File("run/result.json")));
        Assert.Equal(result.Trials.Select(t => (t.Status, t.Error)), written.Trials.Select(t => (t.Status, t.Error)));
        using var store = SqliteTrialStore.InDirectory(dir.File("run"));
        var trials = store.List(store.FindStudy(Optimizer.StudyName)!);
        Assert.Equal(new[] { TrialStatus.Completed, TrialStatus.Failed, TrialStatus.Failed, TrialStatus.Completed }, trials.Select(t => t.Status));
        Assert.Equal(result.Trials[1].Error, trials[1].Error);
        Assert.Equal(result.Trials[2].Error, trials[2].Error);
        Assert.All(result.Pareto.AccuracyVsSize, p => Assert.Contains(p.Trial, new[] { 0, 3 }));
    }

    private static Ir.Model WithNaNWeights(Ir.Model model)
    {
        foreach (var init in model.Graph.Initializers.Where(v => v.Const!.DataType == Ir.DataType.Float)) init.Const!.AsFloats().Fill(float.NaN);
        return model;
    }

    [Fact]
    public void A_run_made_before_strategies_named_their_key_is_continued()
    {
        using var dir = new TempDirectory();
        var model = Lenet5(dir);
        var options = Tiny(1) with { MaxEpochs = 0, Techniques = [CompressionTechnique.Half] };   // fp16, bf16: two trials
        Optimizer.Run(model, Data, options, dir.File("run"), TechniqueSession.Quiet);
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={dir.File("run/trials.db")};Pooling=False"))
        {
            c.Open();
            using var read = c.CreateCommand();
            read.CommandText = "SELECT settings FROM studies";
            var settings = System.Text.Json.Nodes.JsonNode.Parse((string)read.ExecuteScalar()!)!.AsObject();
            Assert.True(settings.Remove("key"));   // as a run of an earlier version wrote them
            using var write = c.CreateCommand();
            write.CommandText = "UPDATE studies SET settings = $s";
            write.Parameters.AddWithValue("$s", CanonicalJson.Of(settings));
            Assert.Equal(1, write.ExecuteNonQuery());
        }

        var result = Optimizer.Run(model, Data, options with { Trials = 2, Resume = true }, dir.File("run"), TechniqueSession.Quiet);

        Assert.Equal(2, result.Trials.Count);
        Assert.All(result.Trials, t => Assert.Equal("completed", t.Status));
        Assert.Equal(2, result.Trials.Select(t => t.Configuration["weights"].GetString()).Distinct().Count());
    }
}
