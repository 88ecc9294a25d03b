using Shrink.Builder;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes.Deployment;
using Shrink.Passes.Merging;
using Shrink.Recipes;
using Shrink.Search;
using Shrink.Techniques;
using Shrink.Training.Optimization;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Training.Tests.Optimization;

/// <summary>
/// Layer merging and half precision in the optimize space (merge probe, fp16/bf16 storage, their output fidelity check,
/// recipe replay), the split of the chosen model, and the rule that no proposal rebuilds the input model or a recipe already tried.
/// </summary>
[Collection("torch")]
public class SpaceTechniquesTests
{
    public SpaceTechniquesTests() => TrainingTechniques.Register();

    private static readonly RecipeData Data = new() { FashionMnist = RecipeData.Embedded, TrainLimit = 128 };

    /// <summary>784 → 32 → 10 with nothing between the two layers: merge-consecutive folds them into one 784 → 10 layer (smaller).</summary>
    private static RecipeModel TwoLinears(TempDirectory dir)
    {
        var b = new NetworkBuilder("two-linears", 3);
        b.Output(b.Linear(b.Linear(b.Input("input", 784), 32), 10));
        var path = dir.File("two-linears.onnx");
        OnnxWriter.Write(b.Build(), path);
        return RecipeModel.File(path);
    }

    [Fact]
    public void Merging_and_half_precision_are_searched_with_their_fidelity_check_and_the_best_replays_bit_for_bit()
    {
        using var dir = new TempDirectory();
        var options = new OptimizeOptions
        {
            MaxAccuracyDrop = 100, Trials = 10, MaxEpochs = 0, LatencyBatches = [1], Seed = 4, Strategy = OptimizeStrategy.Random,
            Techniques = [CompressionTechnique.Merge, CompressionTechnique.Half], Split = new SplitOptions { MaxPartBytes = 1000 },
        };
        var result = Optimizer.Run(TwoLinears(dir), Data, options, dir.File("run"), TechniqueSession.Quiet);

        // merge × {off, on} and weights × {float, fp16, bf16}, less the unchanged model: five trials, then the space is used up.
        Assert.Equal("exhausted", result.Stop);
        Assert.Equal(5, result.Trials.Count);
        Assert.DoesNotContain(result.Trials, t => t.Summary.StartsWith("unchanged", StringComparison.Ordinal));
        Assert.Equal(5, result.Trials.Select(t => t.Summary).Distinct().Count());
        Assert.Contains("Consecutive", File.ReadAllText(dir.File("run/merge-probe.json")));

        foreach (var t in result.Trials)
        {
            Assert.Equal("completed", t.Status);
            var model = OnnxReader.Read(Path.Combine(dir.File("run"), t.Model!));
            var weights = model.Graph.Initializers.Where(v => v.Const!.Dims.Length == 2).Select(v => v.Const!.DataType).ToList();
            var half = t.Configuration["weights"].GetString() switch { "fp16" => DataType.Float16, "bf16" => DataType.BFloat16, _ => DataType.Float };
            Assert.All(weights, d => Assert.Equal(half, d));
            var merged = t.Configuration["merge"].GetString() == "on";
            Assert.Equal(merged ? 1 : 2, model.Graph.Nodes.Count(n => n.OpType == "Gemm"));
            // The fidelity check of merging and half precision: outputs against the original's, worst output.
            Assert.InRange(t.Metrics[TrialMetrics.OutputCosine], 0.999, 1.0 + 1e-9);
            Assert.InRange(t.Metrics[TrialMetrics.OutputMaxError], 0, half == DataType.BFloat16 ? 0.1 : 0.01);
            Assert.True(t.Metrics[TrialMetrics.Bytes] <= t.Metrics[TrialMetrics.PackedBytes]);
        }
        // The smallest is merged and stored in 16 bits: (784·10 + 10) · 2 bytes.
        var best = result.Best!;
        Assert.Equal("on", best.Configuration["merge"].GetString());
        Assert.Equal((784 * 10 + 10) * 2, best.Metrics[TrialMetrics.Bytes]);
        var replay = RecipeRunner.Run(Recipe.Load(dir.File("run/best.recipe.yaml")), dir.File("replay"), TechniqueSession.Quiet);
        Assert.Equal(File.ReadAllBytes(dir.File("run/best.onnx")), File.ReadAllBytes(replay.FinalModel));

        var report = RunReport.FromJson(File.ReadAllText(dir.File("run/report.json")));
        Assert.Contains(report.Layers, l => l.Precision is "float16" or "bfloat16");
        Assert.NotNull(report.ChosenOutputs);
        Assert.Contains("outputs against the original", File.ReadAllText(dir.File("run/report.html")));
        // A part bound below the one merged layer's weights: nothing is split, and the outcome says why.
        Assert.NotNull(result.Parts!.Error);
        Assert.False(Directory.Exists(dir.File("run/best.parts")));
    }

    [Fact]
    public void The_latency_goal_tries_float16_compute_and_says_why_it_is_not_faster()
    {
        using var dir = new TempDirectory();
        var options = new OptimizeOptions
        {
            MaxAccuracyDrop = 100, Trials = 3, MaxEpochs = 0, LatencyBatches = [1], Seed = 1, Strategy = OptimizeStrategy.Random,
            Goal = OptimizeGoal.Latency, Techniques = [CompressionTechnique.Half],
        };
        var result = Optimizer.Run(TwoLinears(dir), Data, options, dir.File("run"), TechniqueSession.Quiet);

        var trial = Assert.Single(result.Trials);   // storage alone is no faster: only fp16 compute is searched for latency
        Assert.Equal("fp16 compute, 0 epochs", trial.Summary);
        Assert.True(trial.Metrics.ContainsKey(TrialMetrics.OutputCosine));
        if (trial.Metrics[TrialMetrics.NotFaster] > 0)
        {
            Assert.False(result.Met);
            Assert.Contains(result.MissReasons, r => r.StartsWith("float16 compute is rarely faster on a CPU", StringComparison.Ordinal));
            var rejected = Assert.Single(RunReport.FromJson(File.ReadAllText(dir.File("run/report.json"))).Rejected);
            Assert.Contains("float16 compute is rarely faster on a CPU", rejected.Reason);
        }
        else Assert.True(result.Met);   // measured faster here: then it is the chosen model
    }

    [Fact]
    public void The_chosen_model_is_split_into_parts_and_a_manifest_beside_best_onnx()
    {
        using var dir = new TempDirectory();
        var path = dir.File("lenet5.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet5", 0), path);
        var options = new OptimizeOptions
        {
            MaxAccuracyDrop = 100, Trials = 1, MaxEpochs = 0, LatencyBatches = [1], Seed = 1, Strategy = OptimizeStrategy.Random,
            Techniques = [CompressionTechnique.Half], Split = new SplitOptions { Parts = 2 },
        };
        var result = Optimizer.Run(RecipeModel.File(path), Data, options, dir.File("run"), TechniqueSession.Quiet);

        var parts = result.Parts!;
        Assert.Null(parts.Error);
        Assert.Equal(2, parts.Parts);
        var manifest = Runtime.Split.SplitManifest.Read(dir.File("run/best.parts/manifest.json"));
        Assert.Equal(2, manifest.Parts.Count);
        Assert.All(manifest.Parts, p => Assert.True(File.Exists(dir.File($"run/best.parts/{p.File}"))));
        Assert.Equal(parts.Parts, RunReport.FromJson(File.ReadAllText(dir.File("run/report.json"))).Parts!.Parts);
        Assert.Contains("equal best.onnx's bit for bit", parts.Description);
        // The Casts of the float16 weights are copied into the part that reads them, not passed between parts.
        // (the second part reads the one activation at the cut and nothing else).
        Assert.Single(manifest.Parts[1].Inputs);
    }

    [Fact]
    public void A_split_that_fails_leaves_no_half_written_parts_behind()
    {
        using var dir = new TempDirectory();
        var path = dir.File("lenet5.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet5", 0), path);
        var options = new OptimizeOptions { MaxAccuracyDrop = 100, Trials = 1, MaxEpochs = 0, LatencyBatches = [1], Seed = 1 };
        var run = OptimizeRun.Load(RecipeModel.File(path), Data, options, dir.File("run"), TechniqueSession.Quiet);
        Directory.CreateDirectory(dir.File("run"));
        File.Copy(path, dir.File("run/best.onnx"));
        File.WriteAllText(dir.File("run/best.parts"), "a file where the parts go");   // the parts cannot be moved into place

        Assert.ThrowsAny<IOException>(() => new RunFiles(run).Split(new SplitOptions { Parts = 2 }));

        Assert.Equal(["best.onnx", "best.parts"], Directory.GetFileSystemEntries(dir.File("run")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_space_of_only_the_unchanged_model_is_refused_before_the_search()
    {
        using var dir = new TempDirectory();
        var path = dir.File("lenet5.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet5", 0), path);
        var notes = new List<string>();
        // lenet5 has a nonlinearity between every pair of layers and no near-identical weights: nothing to merge.
        var options = new OptimizeOptions { MaxAccuracyDrop = 100, Trials = 2, MaxEpochs = 0, LatencyBatches = [1], Techniques = [CompressionTechnique.Merge] };
        var e = Assert.Throws<OptionsException>(() => Optimizer.Run(RecipeModel.File(path), Data, options, dir.File("run"), new TechniqueSession { Notes = notes.Add }));
        Assert.Equal(nameof(OptimizeOptions.Techniques), e.Option);
        Assert.Contains("every configuration is the model unchanged", e.Message);
        Assert.Contains(notes, n => n.StartsWith("layer merging left out of the space: the model has nothing to merge", StringComparison.Ordinal));
        Assert.False(File.Exists(dir.File("run/trials.db")));
    }

    [Fact]
    public void No_proposal_rebuilds_the_input_model_or_a_recipe_already_tried()
    {
        var model = ModelZoo.Create("lenet5", 0);
        var options = new OptimizeOptions { MaxAccuracyDrop = 0.5, Trials = 1, MaxEpochs = 2, Techniques = [CompressionTechnique.Unstructured, CompressionTechnique.Quantize] };
        var space = CompressionSpace.For(model, options, new Passes.Pruning.SensitivityReport(0.1, 10, "magnitude", [])).Space;
        var key = CompressionPlan.Key(seed: 0);
        string Stages(Configuration c) => string.Join("|", CompressionPlan.Recipe(c, RecipeModel.FromZoo("lenet5"), Data, new RecipeRuntime(), 0).Stages
            .Select(s => s.Technique + ":" + RecipeWriter.OptionsToYaml(s.Options)));

        // The raw space holds the unchanged model (no structure, float; or every layer at sparsity 0, or mixed all float) and
        // configurations that differ only in epochs nothing fine-tunes: a key is null exactly when the recipe changes nothing.
        var random = new SearchRandom(7);
        var drawn = Enumerable.Range(0, 400).Select(_ => space.Sample(random)).ToList();
        Assert.Contains(drawn, c => key.Of(c) is null);
        Assert.All(drawn, c => Assert.Equal(key.Of(c) is null, Stages(c).StartsWith("fold-constants:", StringComparison.Ordinal)));

        var history = new List<Trial>();
        var strategy = new RandomSearch(space, 3) { Key = key };
        for (var i = 0; i < 60; i++)
        {
            var p = strategy.Propose(history, 1).Items.Single();
            history.Add(new Trial { Id = i, Number = i, Configuration = p.Configuration, Budget = 1, Status = TrialStatus.Pending, Origin = p.Origin, Created = DateTimeOffset.UnixEpoch });
        }
        Assert.All(history, t => Assert.NotNull(key.Of(t.Configuration)));
        Assert.Equal(60, history.Select(t => Stages(t.Configuration)).Distinct().Count());
    }
}
