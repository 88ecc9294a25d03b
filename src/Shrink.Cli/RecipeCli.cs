using System.CommandLine;
using Shrink.IO;
using Shrink.Recipes;
using Shrink.Techniques;

namespace Shrink.Cli;

/// <summary>
/// <c>--save-recipe FILE</c> and <c>--dry-run</c> for a compression command that runs a registered technique: the
/// command adds the options (<see cref="AddTo"/>), builds its options record and inputs as usual, then calls
/// <see cref="Handle"/>, which writes the command as a one-stage recipe (running it with <c>shrink recipe run</c> makes
/// the same model, bit for bit) or prints what would run, and returns the exit code, or returns null to let the command
/// run. Both write no model.
/// </summary>
internal sealed class RecipeCli
{
    public Option<string?> SaveRecipe { get; } = new("--save-recipe") { Description = "Write this command as a one-stage recipe to FILE instead of running it (shrink recipe run FILE --out DIR makes the same model)" };
    public Option<bool> DryRun { get; } = new("--dry-run") { Description = "Print what would run (the technique with every option resolved, the inputs hashed) and write nothing" };

    public IEnumerable<Option> All => new Option[] { SaveRecipe, DryRun };

    public void AddTo(Command command)
    {
        foreach (var option in All) command.Options.Add(option);
    }

    /// <summary>
    /// With <c>--save-recipe</c> or <c>--dry-run</c>: does that for <paramref name="technique"/> with
    /// <paramref name="options"/> on <paramref name="model"/> and <paramref name="data"/>, and returns the exit code;
    /// else null. <paramref name="guard"/> holds the command's inputs, which the recipe file must not replace.
    /// </summary>
    public int? Handle(CliContext cli, ParseResult p, string technique, object options, RecipeModel model, RecipeData data, RecipeRuntime? runtime = null, OutputGuard? guard = null)
    {
        var save = p.GetValue(SaveRecipe);
        var dry = p.GetValue(DryRun);
        if (save is null && !dry) return null;
        if (save is not null && dry) throw new OptionsException("--dry-run writes nothing; give --save-recipe FILE or --dry-run, not both");
        var recipe = Recipe.FromStage(model, data, technique, options, runtime);
        if (dry) return Reports.RecipeReport.DryRun(cli, RecipeRunner.Plan(recipe), outDir: null, json: false);
        (guard ?? new OutputGuard()).Check(save!, "--save-recipe");
        RecipeWriter.Write(recipe, save!, guard);
        cli.Note($"wrote {save}: the {technique} command as a one-stage recipe; run it with shrink recipe run {save} --out DIR");
        return ShrinkApp.Ok;
    }

    /// <summary>
    /// Refuses <c>--save-recipe</c> when <paramref name="given"/>: <paramref name="flag"/> sets something a recipe does not
    /// record (<paramref name="why"/>), so the saved recipe would replay differently. Call it before <see cref="Handle"/>.
    /// </summary>
    public void Unsaved(ParseResult p, string flag, bool given, string why)
    {
        if (given && p.GetValue(SaveRecipe) is not null)
            throw new OptionsException($"{flag} cannot be saved in a recipe ({why}); drop {flag} to save the recipe");
    }

    /// <summary>
    /// Runs <paramref name="body"/> with a session whose token Ctrl-C cancels; a cancelled run prints the line that says
    /// how to continue (<paramref name="interrupted"/>, else the recipe's) and returns 130, else <see cref="ShrinkApp.Ok"/>.
    /// </summary>
    public static int UntilCtrlC(CliContext cli, Action<TechniqueSession> body, string? interrupted = null)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        System.Console.CancelKeyPress += onCancel;
        try
        {
            body(new TechniqueSession { Notes = cli.Note, Cancel = cancel.Token });
            return ShrinkApp.Ok;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            cli.Note(interrupted ?? "interrupted: finished stages and the running stage's checkpoint are kept; continue with the same command and --resume");
            return TrainingCli.Interrupted;
        }
        finally
        {
            System.Console.CancelKeyPress -= onCancel;
        }
    }
}
