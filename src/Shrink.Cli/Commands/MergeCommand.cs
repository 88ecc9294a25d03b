using System.CommandLine;
using Shrink.Cli.Reports;
using Shrink.Evaluation;
using Shrink.Onnx;
using Shrink.Passes.Merging;
using Shrink.Recipes;
using Shrink.Runtime;
using Shrink.Techniques;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink merge MODEL --out OUT [--only consecutive,parallel,share] [--tolerance T] [--force] [--keep-parallel faster|always]</c>:
/// layer merging with no training (<see cref="MergeTechnique"/>); prints the merges, the parameter change, the fidelity to
/// the input model and the measured latency change.
/// </summary>
internal static class MergeCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var output = new Option<string>("--out") { Description = "Merged ONNX model to write", Required = true };
        var only = new Option<string?>("--only") { Description = "Kinds of merging to run, comma-separated: consecutive, parallel, share (default: all three)" };
        var tolerance = new Option<double>("--tolerance") { Description = "share: weights are shared when they differ by at most this fraction of their largest magnitude (0: identical only)", DefaultValueFactory = _ => 1e-6 };
        var force = new Option<bool>("--force") { Description = "consecutive: merge pairs even when the merged layer has more parameters (a depthwise conv and its pointwise one, a low-rank pair)" };
        var keep = new Option<string>("--keep-parallel") { Description = "parallel: keep the merged layers only when ONNX Runtime runs them faster ('faster'), or always", DefaultValueFactory = _ => "faster" };
        var benchBatch = new Option<string>("--bench-batch") { Description = "Batch sizes for the parallel merges' timing and the before/after latency comparison ('none' to skip the comparison)", DefaultValueFactory = _ => "1" };
        var threads = Options.Threads();
        var dims = Options.Dims();
        var json = Options.Json();
        var recipe = new RecipeCli();
        var gate = new FidelityCli();
        var data = new DataCli("Data to measure fidelity on (default: seeded random inputs): " + DataCli.Description, seed: null, trains: false);
        var command = new Command("merge", "Merge layers without training: consecutive linear layers into one, parallel layers into one wider layer where faster, near-identical weights shared")
            { model, output, only, tolerance, force, keep, benchBatch, threads, dims, json };
        data.AddTo(command);
        foreach (var o in recipe.All.Append(gate.MinFidelity)) command.Options.Add(o);
        cli.Flags(command, (nameof(MergeOptions.Only), "--only"), (nameof(MergeParallelOptions.Keep), "--keep-parallel"), (nameof(MergeParallelOptions.Batches), "--bench-batch"));
        command.SetAction(cli.Guard(p =>
        {
            var (path, outPath) = (p.GetValue(model)!, p.GetValue(output)!);
            var guard = Options.CheckOutput(outPath, path);
            var bench = p.GetValue(benchBatch) == "none" ? Array.Empty<int>() : Options.ParseIntList("--bench-batch", p.GetValue(benchBatch)!);
            var options = new MergeOptions
            {
                Only = p.GetValue(only) is { } o ? ParseKinds(o) : null,
                Consecutive = new MergeConsecutiveOptions { Force = p.GetValue(force) },
                Parallel = new MergeParallelOptions { Keep = ParseKeep(p.GetValue(keep)!), Batches = bench.Length > 0 ? bench : new[] { 1 } },
                Share = new ShareWeightsOptions { Tolerance = p.GetValue(tolerance) },
            }.Validate();
            var runner = new RunnerOptions { Threads = p.GetValue(threads), DimValues = Options.ParseDims(p.GetValue(dims)) };
            var fidelity = gate.Check(p, Text.OptionText.Plain("lower --tolerance, or leave sharing out with --only consecutive,parallel"), recipe);
            if (recipe.Handle(cli, p, "merge", options, RecipeModel.File(path), data.Recipe(p), new RecipeRuntime { Threads = runner.Threads }, guard) is { } code)
                return code;
            var original = OnnxReader.Read(path);
            var sets = data.Optional(p, original, DataCli.Name(path));
            var result = new MergeTechnique().Run(original, options, new TechniqueInputs { Runner = runner }, cli.Session());
            var merges = result.Artifact<LayerMerges>()!;
            var measured = ModelSaver.Save(result.Model, outPath,
                file => ModelEvaluation.Compare(path, file, sets?.Test, bench, runner, naming: cli.Naming, fidelity: fidelity), OnnxWriteOptions.ForResultOf(original), guard: guard);
            var report = new MergeReport(path, outPath, options.Kinds, merges.Merges, merges.ParallelLatency, measured.Before, measured.After, result.Notes.Concat(measured.Notes).ToList());
            if (p.GetValue(json)) cli.WriteJson(report);
            else report.Render(cli.Console);
            FidelityCli.Warn(cli, path, outPath, measured.After);
            return ShrinkApp.Ok;
        }));
        return command;
    }

    /// <summary>The kinds of <c>--only</c>; an unknown one is one line naming the known ones.</summary>
    internal static IReadOnlySet<MergeKind> ParseKinds(string value)
    {
        var kinds = new HashSet<MergeKind>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            kinds.Add(part.ToLowerInvariant() switch
            {
                "consecutive" => MergeKind.Consecutive,
                "parallel" => MergeKind.Parallel,
                "share" => MergeKind.Share,
                _ => throw new OptionsException($"--only '{Text.Message.Name(part)}' is not a kind of merging; give consecutive, parallel or share, comma-separated"),
            });
        return kinds.Count > 0 ? kinds : throw new OptionsException("--only names no kind of merging; give consecutive, parallel or share, comma-separated");
    }

    private static ParallelKeep ParseKeep(string value) => value switch
    {
        "faster" => ParallelKeep.WhenFaster,
        "always" => ParallelKeep.Always,
        _ => throw new OptionsException($"--keep-parallel '{Text.Message.Name(value)}' must be faster or always"),
    };
}
