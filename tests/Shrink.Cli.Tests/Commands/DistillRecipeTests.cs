using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>
/// <c>shrink distill --save-recipe</c> and <c>--dry-run</c>: the command as a one-stage recipe of the <c>distill</c> technique
/// (the student as the model, the teacher file or zoo teacher, --limit as the training limit) that replays bit for bit.
/// </summary>
[Collection("torch")] // it trains: it must not move the generator under the bit-exact resume tests
public class DistillRecipeTests
{
    [Fact]
    public void A_file_teacher_and_a_zoo_student_replay_to_the_same_model()
    {
        using var dir = new TempDirectory();
        var teacher = CliRunner.Zoo(dir, "lenet300", "t.onnx");
        var args = new[] { "distill", "--teacher", teacher, "--student", "lenet300", "--epochs", "1", "--limit", "300", "--seed", "2", "--temperature", "2",
            "--data", "embedded", "--out", dir.File("s.onnx") };
        CliRunner.AssertRecipeReplays(dir, args, dir.File("s.onnx"), "distill");
        var yaml = File.ReadAllText(dir.File("r.yaml"));
        Assert.Contains("\nversion: 2\nmodel:\n  zoo: lenet300\n  seed: 2\ndata:\n  fashion-mnist: embedded\n  train-limit: 300\n  teacher: t.onnx\n", yaml);
        Assert.Contains("      temperature: 2\n", yaml);
        Assert.Contains("      run-directory: null\n      resume: false\n", yaml);   // the recipe run's own, not the command's
    }

    [Fact]
    public void A_zoo_teacher_is_trained_first_in_the_replay_too()
    {
        using var dir = new TempDirectory();
        var student = CliRunner.Zoo(dir, "lenet300", "s0.onnx");
        var args = new[] { "distill", "--teacher", "lenet300", "--teacher-epochs", "1", "--student", student, "--epochs", "1", "--limit", "200", "--seed", "4",
            "--hint", "relu2_out:relu2_out", "--data", "embedded", "--out", dir.File("s.onnx") };
        CliRunner.AssertRecipeReplays(dir, args, dir.File("s.onnx"), "distill");
        var yaml = File.ReadAllText(dir.File("r.yaml"));
        Assert.Contains("model:\n  path: s0.onnx\n", yaml);
        Assert.Contains("  teacher-zoo: lenet300\n  teacher-seed: 5\n", yaml);   // the command builds a zoo teacher with --seed + 1
        Assert.Contains("      - teacher: relu2_out\n        student: relu2_out\n", yaml);
        Assert.Contains("    teacher-epochs: 1\n", yaml);
    }

    [Fact]
    public void Dry_run_writes_nothing_and_a_flag_a_recipe_cannot_hold_refuses_save_recipe()
    {
        using var dir = new TempDirectory();
        var teacher = CliRunner.Zoo(dir, "lenet300", "t.onnx");
        var before = Directory.GetFileSystemEntries(dir.Path).Order().ToArray();
        var args = new[] { "distill", "--teacher", teacher, "--student", "lenet300", "--epochs", "1", "--data", "embedded", "--out", dir.File("s.onnx") };
        var dry = CliRunner.Run(args.Append("--dry-run").ToArray());
        Assert.True(dry.ExitCode == 0, dry.Err);
        Assert.Contains("- technique: distill\n", dry.Out);
        Assert.Contains($"  teacher: {Path.GetRelativePath(Environment.CurrentDirectory, teacher)}\n  teacher-sha256: {RecipeText.Sha256(teacher)}\n", dry.Out);
        CliRunner.AssertBadInput(CliRunner.Run(args.Concat(["--threads", "2", "--save-recipe", dir.File("r.yaml")]).ToArray()),
            "error: --threads cannot be saved in a recipe (libtorch's thread count, which a recipe run leaves at one per core); drop --threads to save the recipe");
        CliRunner.AssertBadInput(CliRunner.Run(args.Concat(["--dry-run", "--save-recipe", dir.File("r.yaml")]).ToArray()), "give --save-recipe FILE or --dry-run, not both");
        Assert.Equal(before, Directory.GetFileSystemEntries(dir.Path).Order().ToArray());
    }
}
