using Shrink.Passes.Pruning;
using Shrink.Passes.Quantization;
using Shrink.Recipes;
using Shrink.Techniques;
using Shrink.Training.Distillation;
using Shrink.Training.FineTuning;
using Xunit;

namespace Shrink.Training.Tests;

/// <summary>
/// Recipes with the training techniques registered (in the torch collection, so bit-exact runs never race other
/// training): their options read and written, a plan refusing them, resuming mid-fine-tuning, and the example recipes.
/// </summary>
[Collection("torch")]
public class RecipeTrainingTests
{
    public RecipeTrainingTests() => TrainingTechniques.Register();

    private const string Recipe = """
        version: 1
        model: { zoo: lenet300, seed: 1 }
        data: { fashion-mnist: fmnist }
        stages:
          - technique: prune-unstructured
            options: { sparsity: 0.6 }
          - technique: fine-tune
            options: { epochs: 2, batch: 64, learning-rate: 0.05 }
          - technique: quantize-dynamic
            options: { reduce-range: on }
        """;

    [Fact]
    public void A_run_stopped_in_a_fine_tuning_stage_resumes_there_and_ends_with_the_same_model()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("fmnist"));
        IdxTestFiles.WriteLearnableSet(dir.File("fmnist"), train: 256, test: 64);
        var whole = RecipeRunner.Run(RecipeText.Load(dir, Recipe), dir.File("whole"), TechniqueSession.Quiet);

        using var stop = new CancellationTokenSource();
        var session = new TechniqueSession { Cancel = stop.Token, Notes = n => { if (n.StartsWith("stage 2 (fine-tune): fine-tune epoch 1/2", StringComparison.Ordinal)) stop.Cancel(); } };
        Assert.ThrowsAny<OperationCanceledException>(() => RecipeRunner.Run(RecipeText.Load(dir, Recipe), dir.File("run"), session));
        Assert.True(File.Exists(dir.File("run/01-prune-unstructured.json")));
        Assert.False(File.Exists(dir.File("run/02-fine-tune.onnx")));

        var resumed = RecipeRunner.Run(RecipeText.Load(dir, Recipe), dir.File("run"), TechniqueSession.Quiet, resume: true);
        Assert.Equal(new[] { true, false, false }, resumed.Stages.Select(s => s.Skipped));
        Assert.Equal(File.ReadAllBytes(whole.FinalModel), File.ReadAllBytes(resumed.FinalModel));
        Assert.False(Directory.Exists(dir.File("run/02-fine-tune.run")));   // a finished stage's checkpoints are removed
        // The pruned weights stay pruned through the fine-tuning (keep-zeros is the default).
        Assert.Equal(resumed.Stages[0].Metrics.NonZero, resumed.Stages[1].Metrics.NonZero);
    }

    [Fact]
    public void The_example_recipes_run()
    {
        var examples = Directory.GetFiles(RecipeText.ExamplesDirectory(), "*.yaml").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(new[] { "lenet300-train-prune-quantize.yaml", "torch-lenet-deep-compression.yaml" }, examples.Select(Path.GetFileName));
        using var dir = new TempDirectory();
        var results = examples.Select(e => RecipeRunner.Run(Shrink.Recipes.Recipe.Load(e), dir.File(Path.GetFileNameWithoutExtension(e)), TechniqueSession.Quiet)).ToList();

        var lenet = results[0].Stages;
        Assert.Equal(new[] { "fine-tune", "prune-unstructured", "fine-tune", "quantize-dynamic" }, lenet.Select(s => s.Technique));
        Assert.InRange(lenet[1].Metrics.Sparsity, 0.79, 0.81);
        Assert.Equal(lenet[1].Metrics.NonZero, lenet[2].Metrics.NonZero);
        // Measured 60.6% after one epoch from the zoo's initialisation and 58.8% at the end on the embedded subset (1,000 test
        // images); the floors sit 10 points below, far above chance (10%).
        Assert.InRange(lenet[0].Metrics.Accuracy!.Value, 0.50, 1);
        Assert.InRange(lenet[3].Metrics.Accuracy!.Value, 0.48, 1);
        Assert.True(lenet[3].Metrics.Bytes * 3 < lenet[2].Metrics.Bytes);   // int8 weights: measured 265.8 KiB against 1.02 MiB

        var deep = results[1].Stages;
        Assert.Equal(new[] { "fold-constants", "prune-unstructured", "cluster-weights" }, deep.Select(s => s.Technique));
        Assert.InRange(deep[2].Metrics.Sparsity, 0.885, 0.905);   // 90% of the weights; biases are kept
        Assert.Null(deep[2].Metrics.Accuracy);
    }

    [Fact]
    public void Writing_then_reading_gives_the_same_recipe()
    {
        using var dir = new TempDirectory();
        var model = dir.File("m.onnx");
        File.WriteAllBytes(model, global::Shrink.Onnx.OnnxWriter.ToBytes(global::Shrink.Zoo.ModelZoo.Create("lenet300")));
        var recipe = new Shrink.Recipes.Recipe
        {
            Model = RecipeModel.File(model),
            Data = new RecipeData { FashionMnist = RecipeData.Embedded, Teacher = model },
            Runtime = new RecipeRuntime { Threads = 2, Dims = new Dictionary<string, long> { ["seq"] = 8 } },
            Stages =
            [
                new RecipeStage("prune-unstructured", new UnstructuredPruneOptions { Sparsity = 0.1 + 0.2, LayerSparsity = new Dictionary<string, double> { ["b"] = 1e-300, ["a"] = double.NaN } }),
                new RecipeStage("quantize-dynamic", new QuantizationOptions { Exclude = new HashSet<string> { "z", "true", "" }, LayerBits = new Dictionary<string, int> { ["x"] = 4 }, Activations = global::Shrink.Ir.DataType.UInt8 }),
                new RecipeStage("fine-tune", new FineTuneTechniqueOptions { Epochs = 3, Distillation = new DistillationOptions { Temperature = double.PositiveInfinity, Hints = [new TensorPair("t:1", "s")] } }),
            ],
        };
        var path = dir.File("saved.yaml");
        RecipeWriter.Write(recipe, path);
        var read = Shrink.Recipes.Recipe.Load(path);
        Assert.Equal(File.ReadAllText(path), RecipeWriter.ToYaml(read, dir.Path));
        Assert.Equal(model, read.Model.Path);
        Assert.Equal(0.1 + 0.2, ((UnstructuredPruneOptions)read.Stages[0].Options).Sparsity);   // round-trip form, not 0.3
        Assert.True(double.IsNaN(((UnstructuredPruneOptions)read.Stages[0].Options).LayerSparsity!["a"]));
        Assert.Equal(new[] { "", "true", "z" }, ((QuantizationOptions)read.Stages[1].Options).Exclude.Order(StringComparer.Ordinal));
        var tune = (FineTuneTechniqueOptions)read.Stages[2].Options;
        Assert.Equal(new TensorPair("t:1", "s"), Assert.Single(tune.Distillation!.Hints));
        Assert.Equal(double.PositiveInfinity, tune.Distillation.Temperature);
        Assert.Equal(8, read.Runtime.Dims["seq"]);
        Assert.Contains("path: m.onnx\n", File.ReadAllText(path));  // relative to the file written
    }

    [Fact]
    public void Every_techniques_default_options_survive_the_round_trip()
    {
        var ids = TechniqueRegistry.Ids;
        Assert.Contains("prune-unstructured", ids);
        Assert.Contains("fine-tune", ids);
        foreach (var id in ids)
        {
            var options = Activator.CreateInstance(TechniqueRegistry.Find(id).OptionsType)!;
            var recipe = new Shrink.Recipes.Recipe { Model = RecipeModel.FromZoo("lenet300"), Stages = [new RecipeStage(id, options)] };
            var yaml = RecipeWriter.ToYaml(recipe);
            Assert.Equal(yaml, RecipeWriter.ToYaml(Shrink.Recipes.Recipe.Parse(yaml)));
        }
    }

    [Fact]
    public void A_bad_option_deep_in_a_record_names_the_whole_key_path()
    {
        using var dir = new TempDirectory();
        var e = RecipeText.Refusal(dir, RecipeText.Header + "data:\n  fashion-mnist: embedded\nstages:\n  - technique: fine-tune\n    options:\n      distillation:\n        hints:\n          - { teacher: a }\n");
        Assert.Equal(11, e.Line);
        Assert.Contains("stage 1 (fine-tune), options.distillation.hints[0].student: missing; this key is required", e.Message);
        var set = RecipeText.Refusal(dir, RecipeText.Header + "stages:\n  - technique: quantize-dynamic\n    options:\n      exclude: [a, b, a]\n");
        Assert.Equal(7, set.Line);
        Assert.Contains("options.exclude[2]: 'a' is listed twice", set.Message);
    }

    [Fact]
    public void A_plan_resolves_every_option_writes_nothing_and_names_the_stage_of_refused_options()
    {
        using var dir = new TempDirectory();
        RecipeText.WriteModel(dir);
        var plan = RecipeRunner.Plan(RecipeText.TwoStages(dir));
        Assert.Empty(plan.Problems);
        Assert.Equal(RecipeText.Sha256(dir.File("m.onnx")), plan.Locked.Model.Sha256);
        Assert.Equal(RecipeLock.Tool, plan.Locked.Tool);
        Assert.Equal(new[] { "m.onnx", "recipe.yaml" }, Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var e = Assert.Throws<RecipeException>(() => RecipeRunner.Plan(RecipeText.TwoStages(dir, "stages:\n  - technique: fold-constants\n  - technique: fine-tune\n")));
        Assert.Equal(5, e.Line);
        Assert.Contains("stage 2 (fine-tune), options: fine-tune needs data; give the technique a data set", e.Message);
        // A refusal that names a property (OptionsException.For) is placed at that key.
        var epochs = Assert.Throws<RecipeException>(() => RecipeRunner.Plan(RecipeText.TwoStages(dir,
            "data: { fashion-mnist: embedded }\nstages:\n  - technique: fine-tune\n    options:\n      batch: 8\n      epochs: 0\n")));
        Assert.Equal(8, epochs.Line);
        Assert.Equal($"{dir.File("recipe.yaml")}:8: stage 1 (fine-tune), options.epochs: must be at least 1, got 0", epochs.Message);
    }
}
