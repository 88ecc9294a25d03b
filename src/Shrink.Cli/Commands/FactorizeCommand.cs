using System.CommandLine;
using Shrink.Cli.Reports;
using Shrink.Evaluation;
using Shrink.Onnx;
using Shrink.Passes.Factorization;
using Shrink.Recipes;
using Shrink.Runtime;
using Shrink.Training.Factorization;
using Shrink.Training.FineTuning;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink factorize MODEL (--energy 0.9 | --ratio 0.5) [--layers L1,L2] [--finetune-epochs N --data DIR]
/// --out OUT [--json]</c>: low-rank factorization by truncated SVD, optional fine-tuning, before/after figures.
/// </summary>
internal static class FactorizeCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var energy = new Option<double?>("--energy") { Description = "Keep the smallest rank holding this fraction of Σσ² per layer, in (0, 1] (default 0.9 unless --ratio)" };
        var ratio = new Option<double?>("--ratio") { Description = "Keep about this fraction of each layer's parameters, in (0, 1)" };
        var layers = new Option<string?>("--layers") { Description = "Comma-separated layer names to factorize (default: every Conv, Gemm and MatMul with a constant weight)" };
        var finetune = new Option<int>("--finetune-epochs") { Description = "Fine-tuning epochs after factorizing (needs --data)", DefaultValueFactory = _ => 0 };
                var lr = new Option<double>("--lr") { Description = "Fine-tuning learning rate (SGD, momentum 0.9, cosine)", DefaultValueFactory = _ => 0.01 };
        var batch = new Option<int>("--batch") { Description = "Fine-tuning batch size", DefaultValueFactory = _ => 128 };
        var seed = new Option<int>("--seed") { Description = "Fine-tuning seed", DefaultValueFactory = _ => 0 };
        var data = new DataCli("Data for accuracy (or, without labels, fidelity) figures and fine-tuning: " + DataCli.Description, seed, trains: true);
        var benchBatch = new Option<string>("--bench-batch") { Description = "Batch sizes for the ONNX Runtime latency comparison ('none' to skip)", DefaultValueFactory = _ => "1,256" };
        var threads = Options.Threads();
        var output = new Option<string>("--out") { Description = "Factorized ONNX model to write", Required = true };
        var json = Options.Json();
        var teacher = new TeacherCli();
        var runDir = new RunDirCli();
        var recipe = new RecipeCli();
        var gate = new FidelityCli();
        var command = new Command("factorize", "Factorize Gemm/MatMul/Conv weights by truncated SVD (low rank), optionally fine-tune, and compare before/after")
            { model, energy, ratio, layers, finetune, lr, batch, seed, benchBatch, threads, output, json };
        data.AddTo(command);
        foreach (var o in teacher.All.Concat(runDir.All).Concat(recipe.All).Append(gate.MinFidelity)) command.Options.Add(o);
        command.SetAction(cli.Guard(p =>
        {
            var (path, outPath) = (p.GetValue(model)!, p.GetValue(output)!);
            var guard = Options.CheckOutput(outPath, path, p.GetValue(teacher.Teacher));
            if (p.GetValue(energy) is not null && p.GetValue(ratio) is not null) throw new OptionsException("give one of --energy and --ratio");
            var lowRank = new LowRankOptions
            {
                Energy = p.GetValue(ratio) is null ? p.GetValue(energy) ?? 0.9 : null,
                Ratio = p.GetValue(ratio),
                Layers = p.GetValue(layers)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(),
            }.Validate();
            var teacherChoice = teacher.Build(p);
            var tuning = new FineTuneOptions { Epochs = p.GetValue(finetune), LearningRate = p.GetValue(lr), Batch = p.GetValue(batch), Seed = p.GetValue(seed), Distillation = teacherChoice?.Options };
            Options.CheckFineTune(tuning, hasData: data.Given(p));
            var batches = p.GetValue(benchBatch) == "none" ? Array.Empty<int>() : Options.ParseIntList("--bench-batch", p.GetValue(benchBatch)!);
            var runnerOptions = new RunnerOptions { Threads = p.GetValue(threads) };
            var options = new FactorizeTechniqueOptions { LowRank = lowRank, FineTune = tuning };
            var fidelity = gate.Check(p, Text.OptionText.Plain("keep more of each layer (a higher --energy or --ratio, or fewer --layers), or fine-tune with --finetune-epochs"), recipe);
            var recipeData = data.Recipe(p) with { Teacher = teacherChoice?.Source };
            if (recipe.Handle(cli, p, "factorize", options, RecipeModel.File(path), recipeData, new RecipeRuntime { Threads = runnerOptions.Threads }, guard) is { } code)
                return code;
            using var run = runDir.Open(p, cli, outPath, trains: tuning.Epochs > 0);

            var original = OnnxReader.Read(path);
            var sets = data.Optional(p, original, DataCli.Name(path));
            var result = new FactorizeTechnique().Run(original, options, TeacherChoice.Inputs(teacherChoice, sets), cli.Session());
            var measured = ModelSaver.Save(result.Model, outPath, file => ModelEvaluation.Compare(path, file, sets?.Test, batches, runnerOptions, naming: cli.Naming, fidelity: fidelity),
                OnnxWriteOptions.ForResultOf(original), guard: guard);
            var report = new FactorizeReport(path, outPath, lowRank.Energy, lowRank.Ratio, tuning.Epochs,
                result.Artifact<FactorizationRanks>()!.Layers.Select(FactorizedLayer.From).ToList(), measured.Before, measured.After, result.Notes.Concat(measured.Notes).ToList());
            if (p.GetValue(json)) cli.WriteJson(report);
            else report.Render(cli.Console);
            FidelityCli.Warn(cli, path, outPath, measured.After);
            run.Succeeded();
            return ShrinkApp.Ok;
        }));
        return command;
    }
}
