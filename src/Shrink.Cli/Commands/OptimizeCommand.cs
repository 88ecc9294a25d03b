using System.CommandLine;
using Shrink.Cli.Reports;
using Shrink.Recipes;
using Shrink.Techniques;
using Shrink.Training.Optimization;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink optimize MODEL --data D (--max-accuracy-drop P | --min-fidelity C) [--goal size|latency|both] [--teacher T]
/// [--budget 2h|N] [--trials N] [--workers N] [--seed S] [--strict] [--strategy evolution|random|annealing|halving]
/// --out DIR [--resume] [--json]</c>: automatic
/// compression (<see cref="Optimizer"/>). Exit code 0 when the chosen model meets the budget, 3 when it does not (the
/// closest attempt is kept and the miss stated), 2 for bad input, 130 when interrupted (continue with --resume).
/// </summary>
internal static class OptimizeCommand
{
    /// <summary>The run ended but no trial met the budget; the closest attempt is written.</summary>
    public const int BudgetMissed = 3;

    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var f = new OptimizeCli();
        var data = new DataCli("Data: the training split fine-tunes and calibrates, the test split accepts. " + DataCli.Description, f.Seed, trains: true);
        var threads = new Option<int>("--threads") { Description = "Threads of the trials, split between the workers (0: one per core)", DefaultValueFactory = _ => 0 };
        var json = Options.Json();
        var command = new Command("optimize", "Search every technique together for the smallest or fastest model within an accuracy budget") { model, threads, json };
        foreach (var o in f.All) command.Options.Add(o);
        data.AddTo(command);
        cli.Flags(command, OptimizeCli.Aliases);
        command.SetAction(cli.Guard(p =>
        {
            var (path, dir) = (Path.GetFullPath(p.GetValue(model)!), p.GetValue(f.Out)!);
            var options = f.Build(p, p.GetValue(threads));
            if (!data.Given(p)) throw new OptionsException("optimize needs --data: it fine-tunes on the training split and accepts on the test split (e.g. --data embedded)");
            if (!File.Exists(path)) throw new OptionsException($"the model {path} does not exist; give an ONNX file");
            var teacher = p.GetValue(f.Teacher) is { } t ? Path.GetFullPath(t) : null;
            if (teacher is not null && !File.Exists(teacher)) throw new OptionsException($"the teacher {teacher} does not exist; give an ONNX file to --teacher");
            var recipeData = data.Recipe(p) with { Teacher = teacher, TrainLimit = Options.CheckLimit(p.GetValue(f.Limit)) };
            var report = new OptimizeReport(cli, terminal: !p.GetValue(json) && ReferenceEquals(cli.Err, Console.Error) && !Console.IsErrorRedirected);
            OptimizeResult? result = null;
            var code = RecipeCli.UntilCtrlC(cli, s =>
            {
                var session = new TechniqueSession { Cancel = s.Cancel, Notes = cli.Note, Naming = cli.Naming, Verbosity = cli.Verbosity };
                result = Optimizer.Run(RecipeModel.File(path), recipeData, options, dir, session, report.Progress);
            }, $"interrupted: the finished trials are kept in {Path.Combine(Path.GetFullPath(dir), "trials.db")} and the best so far in best.onnx, pareto.json and result.json; the running trial is retried when you continue with the same command and --resume");
            if (result is null) return code;
            if (p.GetValue(json)) cli.WriteJson(result);
            else report.Result(result);
            return result.Met ? ShrinkApp.Ok : BudgetMissed;
        }));
        return command;
    }
}
