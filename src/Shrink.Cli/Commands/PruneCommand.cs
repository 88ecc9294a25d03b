using System.CommandLine;
using Shrink.Cli.Reports;
using Shrink.Evaluation;
using Shrink.Onnx;
using Shrink.Passes.Pruning;
using Shrink.Recipes;
using Shrink.Runtime;
using Shrink.Training.FineTuning;
using Shrink.Training.Pruning;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink prune MODEL --method magnitude|random|N:M|l1-filter|… --sparsity S [--scope layer|global] [--layers CONFIG]
/// [--schedule oneshot|iterative|agp --steps K] [--finetune-epochs N --data DIR] --out OUT</c>: parses the flags into
/// <see cref="PruneOptions"/>, runs <see cref="Pruner.Run"/>, and compares size, non-zeros, MACs, accuracy and ONNX
/// Runtime latency before and after, measured in one run.
/// </summary>
internal static class PruneCommand
{
    public static Command Create(CliContext cli)
    {
        var flags = new PruneCli();
        var recipe = new RecipeCli();
        var runDir = new RunDirCli();
        var gate = new FidelityCli();
        var command = new Command("prune", "Prune weights (unstructured), optionally fine-tune with the masks held, and compare before/after") { flags.Model };
        foreach (var o in flags.All.Concat(runDir.All).Append(gate.MinFidelity)) command.Options.Add(o);
        recipe.AddTo(command);
        cli.Flags(command, PruneCli.Aliases);
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(flags.Model)!;
            var outPath = p.GetValue(flags.Output)!;
            var guard = Options.CheckOutput(outPath, path, p.GetValue(flags.Teacher.Teacher), p.GetValue(flags.Layers));
            var teacher = flags.Teacher.Build(p);
            cli.Verbosity = flags.Notes(p);
            var options = flags.Build(p, teacher);
            var batches = p.GetValue(flags.BenchBatch) == "none" ? Array.Empty<int>() : Options.ParseIntList("--bench-batch", p.GetValue(flags.BenchBatch)!);
            var runner = new RunnerOptions { Threads = p.GetValue(flags.Threads), DimValues = Options.ParseDims(p.GetValue(flags.Dims)) };
            var fidelity = gate.Check(p, Text.OptionText.Of($"prune at a lower {Text.OptionName.Of(nameof(PruneOptions.Sparsity))} or fewer layers, or fine-tune ({Text.OptionName.Of(nameof(FineTuneOptions.Epochs))})"), recipe);
            var data = flags.DataFlags.Recipe(p) with { Teacher = teacher?.Source };
            if (recipe.Handle(cli, p, "prune", options, RecipeModel.File(path), data, new RecipeRuntime { Threads = runner.Threads, Dims = runner.DimValues }, guard) is { } code)
                return code;
            using var run = runDir.Open(p, cli, outPath, trains: p.GetValue(flags.Data) is not null && (options.FineTune.Epochs > 0 || options.SlimEpochs > 0));

            var original = OnnxReader.Read(path);
            var sets = flags.DataFlags.Optional(p, original, DataCli.Name(path));
            var result = Pruner.Run(original, options, TeacherChoice.Inputs(teacher, sets), cli.Session());
            var measured = ModelSaver.Save(result.Model, outPath, file => ModelEvaluation.Compare(path, file, sets?.Test, batches, runner, naming: cli.Naming, fidelity: fidelity),
                OnnxWriteOptions.ForResultOf(original), guard: guard);
            var notes = result.Notes.Concat(measured.Notes).ToList();
            var (before, after, stats) = (measured.Before, measured.After, measured.After.Stats!);
            var structural = options.Method.IsStructured();
            var scope = options.Scope == PruneScope.Global ? "global" : structural ? "group" : "layer";
            var report = new PruneReport(path, outPath, p.GetValue(flags.Method)!, options.TargetSparsity, scope, options.Rounds, options.FineTune.Epochs,
                before, after, notes, stats.Layers.Where(l => l.Parameters > 0).ToList(), structural);
            if (p.GetValue(flags.Json)) cli.WriteJson(report);
            else report.Render(cli.Console);
            FidelityCli.Warn(cli, path, outPath, after);
            run.Succeeded();
            return ShrinkApp.Ok;
        }));
        return command;
    }
}
