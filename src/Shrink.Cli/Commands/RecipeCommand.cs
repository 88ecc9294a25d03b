using System.CommandLine;
using Shrink.Cli.Reports;
using Shrink.Recipes;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink recipe run RECIPE.yaml --out DIR [--resume] [--dry-run] [--json]</c>: runs a recipe's stages in order,
/// writing each stage's model and metrics and <c>DIR/recipe.lock.yaml</c>; Ctrl-C stops it (exit 130) and
/// <c>--resume</c> continues in the stage it was in.
/// </summary>
internal static class RecipeCommand
{
    public static Command Create(CliContext cli)
    {
        var file = new Argument<string>("RECIPE") { Description = "Recipe YAML file (version: 1 or 2, model, data, stages)" };
        var output = new Option<string>("--out") { Description = "Directory of the run: NN-technique.onnx and .json per stage, and recipe.lock.yaml (new or empty, unless --resume)", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue the stopped run in --out: finished stages are verified by SHA-256 and skipped, the stage that was running continues at its epoch" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print what would run (the recipe locked: every option resolved, the inputs hashed) and write nothing" };
        var json = Options.Json();
        var run = new Command("run", "Run a recipe: its stages in order, each stage's input the previous stage's model") { file, output, resume, dryRun, json };
        run.SetAction(cli.Guard(p =>
        {
            var recipe = Recipe.Load(p.GetValue(file)!);
            var dir = p.GetValue(output)!;
            if (p.GetValue(dryRun)) return RecipeReport.DryRun(cli, RecipeRunner.Plan(recipe), dir, p.GetValue(json));
            return RecipeCli.UntilCtrlC(cli, session =>
            {
                var result = RecipeRunner.Run(recipe, dir, session, p.GetValue(resume));
                RecipeReport.Render(cli, result, p.GetValue(json));
            });
        }));
        var listJson = Options.Json();
        var techniques = new Command("techniques", "List the techniques a recipe stage can name, with their options' defaults") { listJson };
        techniques.SetAction(cli.Guard(p => RecipeReport.Techniques(cli, p.GetValue(listJson))));
        return new Command("recipe", "Compression recipes: YAML files of stages, each a technique with its options, run and resumed as one") { run, techniques };
    }
}
