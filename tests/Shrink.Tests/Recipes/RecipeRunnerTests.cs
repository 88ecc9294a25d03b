using Shrink.Onnx;
using Shrink.Passes.Pruning;
using Shrink.Recipes;
using Shrink.Runtime;
using Shrink.Stats;
using Shrink.Techniques;
using Xunit;

namespace Shrink.Tests.Recipes;

/// <summary>Running recipes of passes (no training): each stage's model and metrics, the lock, resuming, and the one-stage recipe of a command.</summary>
public class RecipeRunnerTests
{
    /// <summary>The final model of the two stages applied by hand, each technique's model written with <see cref="ModelSaver"/> and read back.</summary>
    private static byte[] ByHand(TempDirectory dir, params (string Id, object Options)[] stages)
    {
        var model = OnnxReader.Read(dir.File("m.onnx"));
        var path = dir.File("by-hand.onnx");
        foreach (var (id, options) in stages)
        {
            ModelSaver.Save(TechniqueRegistry.Find(id).Run(model, options, TechniqueInputs.None, TechniqueSession.Quiet).Model, path);
            model = OnnxReader.Read(path);
        }
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void Each_stage_writes_its_model_and_metrics_and_feeds_the_next()
    {
        using var dir = new TempDirectory();
        var input = RecipeText.WriteModel(dir);
        var result = RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("run"), TechniqueSession.Quiet);
        Assert.Equal(new[] { "01-prune-unstructured.onnx", "02-cluster-weights.onnx" }, result.Stages.Select(s => Path.GetFileName(s.ModelPath)));
        Assert.Equal(new[] { "01-prune-unstructured.json", "01-prune-unstructured.onnx", "02-cluster-weights.json", "02-cluster-weights.onnx", "recipe.lock.yaml" },
            Directory.GetFileSystemEntries(dir.File("run")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var (first, second) = (result.Stages[0].Metrics, result.Stages[1].Metrics);
        Assert.Equal(RecipeText.Sha256(input), first.InputSha256);
        Assert.Equal(RecipeText.Sha256(result.Stages[0].ModelPath), first.ModelSha256);
        Assert.Equal(first.ModelSha256, second.InputSha256);
        Assert.Equal(RecipeText.Sha256(result.FinalModel), second.ModelSha256);
        var stats = ModelStats.Compute(result.Stages[0].ModelPath);
        Assert.Equal((stats.Parameters, stats.NonZero, stats.Macs, stats.BytesOnDisk), (first.Parameters, first.NonZero, first.Macs, first.Bytes));
        Assert.InRange(first.Sparsity, 0.49, 0.51);   // 50% of the weights; the 410 biases are not pruned
        Assert.Null(first.Accuracy);
        Assert.Equal(first, StageMetrics.TryRead(result.Stages[0].MetricsPath) with { Artifacts = first.Artifacts, Notes = first.Notes });
        Assert.Equal(ByHand(dir, ("prune-unstructured", (object)new UnstructuredPruneOptions { Sparsity = 0.5 }), ("cluster-weights", (object)new global::Shrink.Passes.Sharing.ClusterOptions { Bits = 4 })),
            File.ReadAllBytes(result.FinalModel));
    }

    [Fact]
    public void The_lock_holds_every_option_the_tool_and_the_input_hashes_and_replays()
    {
        using var dir = new TempDirectory();
        var input = RecipeText.WriteModel(dir);
        var result = RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("run"), TechniqueSession.Quiet);
        var text = File.ReadAllText(result.LockPath);
        Assert.Contains($"\ntool: {RecipeLock.Tool}\n", text);
        Assert.Matches(@"^shrink \d+\.\d+\.\d+", RecipeLock.Tool);
        Assert.Contains($"model:\n  path: ../m.onnx\n  sha256: {RecipeText.Sha256(input)}\n", text);
        Assert.Contains("    method: magnitude\n    sparsity: 0.5\n    scope: layer\n", text);   // defaults filled in
        Assert.Contains("    bits: 4\n", text);
        Assert.Contains("    iterations: 50\n", text);
        var replay = RecipeRunner.Run(Recipe.Load(result.LockPath), dir.File("replay"), TechniqueSession.Quiet);
        Assert.Equal(File.ReadAllBytes(result.FinalModel), File.ReadAllBytes(replay.FinalModel));

        var tampered = dir.File("run/tampered.lock.yaml");
        File.WriteAllText(tampered, text.Replace(RecipeText.Sha256(input), new string('0', 64)));
        var e = Assert.Throws<RecipeException>(() => RecipeRunner.Run(Recipe.Load(tampered), dir.File("never"), TechniqueSession.Quiet));
        Assert.Equal(Array.IndexOf(text.Split('\n'), $"  sha256: {RecipeText.Sha256(input)}") + 1, e.Line);
        Assert.Contains($"model.sha256: {input} has SHA-256 {RecipeText.Sha256(input)}, not the {new string('0', 64)} the recipe names", e.Message);
        Assert.False(Directory.Exists(dir.File("never")));
    }

    [Fact]
    public void With_data_the_lock_hashes_it_and_the_metrics_hold_the_accuracy_in_onnx_runtime()
    {
        using var dir = new TempDirectory();
        RecipeText.WriteModel(dir);
        Directory.CreateDirectory(dir.File("fmnist"));
        IdxTestFiles.WriteLearnableSet(dir.File("fmnist"), train: 20, test: 30);
        var recipe = RecipeText.Load(dir, "version: 1\nmodel: m.onnx\ndata:\n  fashion-mnist: fmnist\nstages:\n  - technique: fold-constants\n");
        var result = RecipeRunner.Run(recipe, dir.File("run"), TechniqueSession.Quiet);
        var files = new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" }.Select(f => dir.File("fmnist/" + f)).ToArray();
        Assert.Contains($"  fashion-mnist: ../fmnist\n  fashion-mnist-sha256: {RecipeText.Sha256(files)}\n", File.ReadAllText(result.LockPath));
        using var runner = OnnxRunner.Load(result.FinalModel);
        Assert.Equal(runner.Evaluate(global::Shrink.Data.FashionMnist.LoadDirectory(dir.File("fmnist")).Test).Accuracy, result.Stages[0].Metrics.Accuracy);
    }

    [Fact]
    public void A_run_stopped_between_stages_resumes_at_the_next_stage_and_ends_with_the_same_model()
    {
        using var dir = new TempDirectory();
        RecipeText.WriteModel(dir);
        var whole = RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("whole"), TechniqueSession.Quiet);
        using var stop = new CancellationTokenSource();
        var session = new TechniqueSession { Cancel = stop.Token, Notes = n => { if (n.StartsWith("stage 1 (prune-unstructured): wrote", StringComparison.Ordinal)) stop.Cancel(); } };
        Assert.ThrowsAny<OperationCanceledException>(() => RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("run"), session));
        Assert.True(File.Exists(dir.File("run/01-prune-unstructured.json")));
        Assert.False(File.Exists(dir.File("run/02-cluster-weights.onnx")));
        var notes = new List<string>();
        var resumed = RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("run"), new TechniqueSession { Notes = notes.Add }, resume: true);
        Assert.Equal(new[] { true, false }, resumed.Stages.Select(s => s.Skipped));
        Assert.Contains("stage 1 (prune-unstructured): finished before, 01-prune-unstructured.onnx verified (SHA-256); skipped", notes);
        Assert.Equal(File.ReadAllBytes(whole.FinalModel), File.ReadAllBytes(resumed.FinalModel));
    }

    [Fact]
    public void A_finished_stage_whose_model_changed_runs_again_and_later_stages_are_checked_against_its_new_model()
    {
        using var dir = new TempDirectory();
        RecipeText.WriteModel(dir);
        var first = RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("run"), TechniqueSession.Quiet);
        var expected = File.ReadAllBytes(first.FinalModel);
        ModelSaver.Save(global::Shrink.Zoo.ModelZoo.Create("lenet300", seed: 9), first.Stages[0].ModelPath);
        var notes = new List<string>();
        var again = RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("run"), new TechniqueSession { Notes = notes.Add }, resume: true);
        // Stage 1 runs again and makes the same model, so stage 2's input is unchanged and it stays done.
        Assert.Equal(new[] { false, true }, again.Stages.Select(s => s.Skipped));
        Assert.Contains("stage 1 (prune-unstructured): 01-prune-unstructured.onnx (or its external data) does not match 01-prune-unstructured.json or its input; running the stage again", notes);
        Assert.Equal(expected, File.ReadAllBytes(again.FinalModel));
    }

    [Fact]
    public void A_finished_stage_whose_external_data_is_damaged_or_missing_runs_again_on_resume()
    {
        using var dir = new TempDirectory();
        ModelSaver.Save(global::Shrink.Zoo.ModelZoo.Create("lenet300", seed: 3), dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true });
        var first = RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("run"), TechniqueSession.Quiet);
        var stage1 = first.Stages[0].ModelPath;
        var data = Assert.Single(ExternalDataFiles.Referenced(stage1));   // the stage wrote its weights as its input stores them
        Assert.Equal(RecipeText.Sha256(stage1, data), first.Stages[0].Metrics.ModelSha256);
        var expected = File.ReadAllBytes(first.FinalModel);

        var notes = new List<string>();
        var verified = RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("run"), new TechniqueSession { Notes = notes.Add }, resume: true);
        Assert.Equal(new[] { true, true }, verified.Stages.Select(s => s.Skipped));
        Assert.Contains("stage 1 (prune-unstructured): finished before, 01-prune-unstructured.onnx and its 1 external data file verified (SHA-256); skipped", notes);

        var bytes = File.ReadAllBytes(data);   // one weight changed in the data file, the .onnx untouched
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(data, bytes);
        notes.Clear();
        var damaged = RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("run"), new TechniqueSession { Notes = notes.Add }, resume: true);
        Assert.Equal(new[] { false, true }, damaged.Stages.Select(s => s.Skipped));
        Assert.Contains("stage 1 (prune-unstructured): 01-prune-unstructured.onnx (or its external data) does not match 01-prune-unstructured.json or its input; running the stage again", notes);
        Assert.Equal(expected, File.ReadAllBytes(damaged.FinalModel));

        File.Delete(Assert.Single(ExternalDataFiles.Referenced(stage1)));
        notes.Clear();
        var missing = RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("run"), new TechniqueSession { Notes = notes.Add }, resume: true);
        Assert.Equal(new[] { false, true }, missing.Stages.Select(s => s.Skipped));
        Assert.Contains(notes, n => n.StartsWith("stage 1 (prune-unstructured): 01-prune-unstructured.onnx cannot be verified (external data file", StringComparison.Ordinal)
            && n.EndsWith("does not exist; check the path); running the stage again", StringComparison.Ordinal));
        Assert.Equal(expected, File.ReadAllBytes(missing.FinalModel));
        Assert.Equal(RecipeText.Sha256(stage1, Assert.Single(ExternalDataFiles.Referenced(stage1))), missing.Stages[0].Metrics.ModelSha256);
    }

    [Fact]
    public void A_run_directory_is_new_or_resumed_with_the_same_recipe()
    {
        using var dir = new TempDirectory();
        RecipeText.WriteModel(dir);
        RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("run"), TechniqueSession.Quiet);
        var taken = Assert.Throws<OptionsException>(() => RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("run"), TechniqueSession.Quiet));
        Assert.Equal($"'{dir.File("run")}' already holds a recipe run; resume it, or choose another output directory", taken.Message);
        Directory.CreateDirectory(dir.File("empty"));
        var nothing = Assert.Throws<OptionsException>(() => RecipeRunner.Run(RecipeText.TwoStages(dir), dir.File("empty"), TechniqueSession.Quiet, resume: true));
        Assert.Contains("nothing to resume in", nothing.Message);
        var changed = Assert.Throws<OptionsException>(() => RecipeRunner.Run(RecipeText.TwoStages(dir, RecipeText.TwoStagesYaml.Replace("0.5", "0.6")), dir.File("run"), TechniqueSession.Quiet, resume: true));
        Assert.Contains("was written for another recipe or other inputs (it says 'sparsity: 0.5' where this run has 'sparsity: 0.6')", changed.Message);
    }

    [Fact]
    public void The_one_stage_recipe_of_a_command_makes_the_model_the_technique_makes()
    {
        using var dir = new TempDirectory();
        var input = RecipeText.WriteModel(dir);
        var options = new UnstructuredPruneOptions { Sparsity = 0.7, Scope = PruneScope.Global };
        var path = dir.File("saved/command.yaml");
        Directory.CreateDirectory(dir.File("saved"));
        RecipeWriter.Write(Recipe.FromStage(RecipeModel.File(input), new RecipeData(), "prune-unstructured", options), path);
        Assert.Contains("  path: ../m.onnx\n", File.ReadAllText(path));
        var result = RecipeRunner.Run(Recipe.Load(path), dir.File("run"), TechniqueSession.Quiet);
        Assert.Equal(ByHand(dir, ("prune-unstructured", (object)options)), File.ReadAllBytes(result.FinalModel));
        Assert.Throws<ArgumentException>(() => Recipe.FromStage(RecipeModel.File(input), new RecipeData(), "prune-unstructured", new global::Shrink.Passes.Sharing.ClusterOptions()));
    }
}
