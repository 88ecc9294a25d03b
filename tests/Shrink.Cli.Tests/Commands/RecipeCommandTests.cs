using System.CommandLine;
using Shrink.Cli;
using Shrink.Passes.Pruning;
using Shrink.Recipes;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary><c>shrink recipe run</c> and <c>techniques</c>: parsing, rendering, exit codes; and the <c>--save-recipe</c>/<c>--dry-run</c> piece commands share.</summary>
public class RecipeCommandTests
{
    private static string Write(TempDirectory dir, string options = "{ sparsity: 0.5 }")
    {
        CliRunner.Zoo(dir, "lenet300", "m.onnx");
        var path = dir.File("recipe.yaml");
        File.WriteAllText(path, $"version: 1\nmodel: m.onnx\nstages:\n  - technique: prune-unstructured\n    options:\n      {options.Trim('{', '}', ' ')}\n  - technique: fold-constants\n");
        return path;
    }

    [Fact]
    public void Run_prints_a_row_per_stage_and_resume_skips_finished_stages()
    {
        using var dir = new TempDirectory();
        var recipe = Write(dir);
        var r = CliRunner.Run("recipe", "run", recipe, "--out", dir.File("run"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("prune-unstructured", r.Out);
        Assert.Contains($"wrote {dir.File("run")}: 2 stage(s), lock recipe.lock.yaml; final model {dir.File("run/02-fold-constants.onnx")}", r.Out);
        Assert.Contains($"stage 1 (prune-unstructured): wrote {dir.File("run/01-prune-unstructured.onnx")}", r.Err);
        CliRunner.AssertBadInput(CliRunner.Run("recipe", "run", recipe, "--out", dir.File("run")), "already holds a recipe run; resume it");
        var resumed = CliRunner.Run("recipe", "run", recipe, "--out", dir.File("run"), "--resume", "--json");
        Assert.Equal(0, resumed.ExitCode);
        Assert.Contains("\"skipped\": true", resumed.Out);
        Assert.Contains("stage 2 (fold-constants): finished before", resumed.Err);
    }

    [Fact]
    public void A_bad_recipe_is_one_line_with_its_place_and_exit_code_2()
    {
        using var dir = new TempDirectory();
        var recipe = Write(dir, "sparsty: 0.5");
        var r = CliRunner.Run("recipe", "run", recipe, "--out", dir.File("run"));
        CliRunner.AssertBadInput(r, $"error: {recipe}:6: stage 1 (prune-unstructured), options.sparsty: unknown key; known keys: ");
        Assert.False(Directory.Exists(dir.File("run")));
        CliRunner.AssertBadInput(CliRunner.Run("recipe", "run", dir.File("none.yaml"), "--out", dir.File("run")), "none.yaml:0: (file): does not exist");
    }

    [Fact]
    public void Dry_run_prints_every_option_and_writes_nothing()
    {
        using var dir = new TempDirectory();
        var r = CliRunner.Run("recipe", "run", Write(dir), "--out", dir.File("run"), "--dry-run");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("    method: magnitude\n    sparsity: 0.5\n", r.Out);
        Assert.Contains($"# would write {dir.File("run/recipe.lock.yaml")} and {dir.File("run/01-prune-unstructured.onnx")}", r.Out);
        Assert.False(Directory.Exists(dir.File("run")));
    }

    [Fact]
    public void Techniques_lists_each_id_with_its_default_options()
    {
        var r = CliRunner.Run("recipe", "techniques");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("fine-tune: ", r.Out);
        Assert.Contains("\n    epochs: 1\n", r.Out);
        Assert.Contains("prune-unstructured: the prune-unstructured pass, once\n    method: magnitude\n", r.Out);
        Assert.Contains("fold-constants: the fold-constants pass, once\n    {}\n", r.Out);
    }

    /// <summary>A command with the shared options, as a compression command would add them.</summary>
    private static (int? Code, string Out, string Err) Handle(string model, params string[] args)
    {
        var recipeCli = new RecipeCli();
        var command = new RootCommand();
        recipeCli.AddTo(command);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var cli = new CliContext(stdout, stderr);
        var code = recipeCli.Handle(cli, command.Parse(args), "prune-unstructured", new UnstructuredPruneOptions { Sparsity = 0.25 },
            RecipeModel.File(model), new RecipeData(), guard: global::Shrink.IO.OutputGuard.Protecting(model));
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Save_recipe_writes_the_command_as_a_recipe_that_makes_the_same_model()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300", "m.onnx");
        Assert.Null(Handle(model).Code);   // neither option: the command runs
        var saved = Handle(model, "--save-recipe", dir.File("c.yaml"));
        Assert.Equal(0, saved.Code);
        Assert.Contains("the prune-unstructured command as a one-stage recipe", saved.Err);
        Assert.Equal(0, CliRunner.Run("recipe", "run", dir.File("c.yaml"), "--out", dir.File("run")).ExitCode);
        var direct = global::Shrink.Techniques.TechniqueRegistry.Find("prune-unstructured").Run(global::Shrink.Onnx.OnnxReader.Read(model), new UnstructuredPruneOptions { Sparsity = 0.25 }, global::Shrink.Techniques.TechniqueInputs.None, global::Shrink.Techniques.TechniqueSession.Quiet);
        global::Shrink.Runtime.ModelSaver.Save(direct.Model, dir.File("direct.onnx"));
        Assert.Equal(File.ReadAllBytes(dir.File("direct.onnx")), File.ReadAllBytes(dir.File("run/01-prune-unstructured.onnx")));

        var dry = Handle(model, "--dry-run");
        Assert.Equal(0, dry.Code);
        Assert.Contains("    sparsity: 0.25\n", dry.Out);
        Assert.Equal("--dry-run writes nothing; give --save-recipe FILE or --dry-run, not both",
            Assert.Throws<OptionsException>(() => Handle(model, "--dry-run", "--save-recipe", dir.File("x.yaml"))).Message);
        Assert.Contains("--save-recipe 'm.onnx' is an input", Assert.Throws<OptionsException>(() => Handle(model, "--save-recipe", model)).Message.Replace(dir.Path + "/", ""));
    }
}
