using Shrink.Recipes;
using Shrink.Techniques;
using Shrink.Tests.Data;
using Shrink.Training;
using Xunit;

namespace Shrink.Tests.Recipes;

/// <summary>Recipes with training stages (in the torch collection, so bit-exact runs never race other training): resuming mid-fine-tuning, and the example recipes.</summary>
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
}
