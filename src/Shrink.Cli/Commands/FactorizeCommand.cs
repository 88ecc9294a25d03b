using System.CommandLine;
using Spectre.Console;
using Shrink.Cli.Reports;
using Shrink.Data;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Factorization;
using Shrink.Runtime;
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
        var data = new Option<string?>("--data") { Description = "Fashion-MNIST directory or 'embedded': accuracy figures and fine-tuning" };
        var lr = new Option<double>("--lr") { Description = "Fine-tuning learning rate (SGD, momentum 0.9, cosine)", DefaultValueFactory = _ => 0.01 };
        var batch = new Option<int>("--batch") { Description = "Fine-tuning batch size", DefaultValueFactory = _ => 128 };
        var seed = new Option<int>("--seed") { Description = "Fine-tuning seed", DefaultValueFactory = _ => 0 };
        var benchBatch = new Option<string>("--bench-batch") { Description = "Batch sizes for the ONNX Runtime latency comparison ('none' to skip)", DefaultValueFactory = _ => "1,256" };
        var threads = Options.Threads();
        var output = new Option<string>("--out") { Description = "Factorized ONNX model to write", Required = true };
        var json = Options.Json();
        var teacher = new TeacherCli();
        var runDir = new RunDirCli();
        var command = new Command("factorize", "Factorize Gemm/MatMul/Conv weights by truncated SVD (low rank), optionally fine-tune, and compare before/after")
            { model, energy, ratio, layers, finetune, data, lr, batch, seed, benchBatch, threads, output, json };
        foreach (var o in teacher.All.Concat(runDir.All)) command.Options.Add(o);
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(model)!;
            var outPath = p.GetValue(output)!;
            var guard = Options.CheckOutput(outPath, path, p.GetValue(teacher.Teacher));
            var options = new LowRankOptions
            {
                Energy = p.GetValue(ratio) is null ? p.GetValue(energy) ?? 0.9 : p.GetValue(energy),
                Ratio = p.GetValue(ratio),
                Layers = p.GetValue(layers)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(),
            }.Validate();
            var teacherChoice = teacher.Build(p);
            var tuning = new FineTuneOptions { Epochs = p.GetValue(finetune), LearningRate = p.GetValue(lr), Batch = p.GetValue(batch), Seed = p.GetValue(seed), Distillation = teacherChoice?.Options };
            Options.CheckFineTune(tuning, hasData: p.GetValue(data) is not null);
            var batches = p.GetValue(benchBatch) == "none" ? Array.Empty<int>() : Options.ParseIntList("--bench-batch", p.GetValue(benchBatch)!);
            var runnerOptions = new RunnerOptions { Threads = p.GetValue(threads) };
            using var run = runDir.Open(p, cli, outPath, trains: tuning.Epochs > 0);

            var context = new PassContext();
            var pass = new LowRankPass(options);
            var original = OnnxReader.Read(path);
            if (pass.CheckPreconditions(original) is { } reason) throw new OptionsException(reason);
            var sets = p.GetValue(data) is { } dir ? FashionMnist.Load(dir) : null;
            var result = new PassPipeline(pass).Run(original, context);
            if (!result.Modified) throw new OptionsException($"no layer was factorized: {string.Join("; ", context.Notes)}; lower --energy or --ratio");
            var factorized = result.Model;
            if (tuning.Epochs > 0) factorized = FineTuner.Run(factorized, tuning, TeacherChoice.Inputs(teacherChoice, sets!), cli.Session(), "fine-tune").Model;
            var (before, after, _) = ModelSaver.Save(factorized, outPath, file => ModelSide.MeasurePair(path, file, sets?.Test, batches, runnerOptions, context.Notes), guard: guard);
            var report = new FactorizeReport(path, outPath, options.Energy, options.Ratio, tuning.Epochs,
                result.Artifact<FactorizationRanks>()!.Layers.Select(kv => new FactorizedLayer(kv.Key, kv.Value.Rank, kv.Value.FullRank)).ToList(), before, after, context.Notes);
            if (p.GetValue(json)) cli.WriteJson(report);
            else
            {
                cli.Console.Write(ModelSide.Table(before, after));
                var t = new Table().AddColumns("layer", "rank kept", "full rank");
                foreach (var l in report.Layers) t.AddRow(Markup.Escape(l.Layer), l.Rank.ToString(), l.FullRank.ToString());
                cli.Console.Write(t);
                foreach (var note in context.Notes) cli.Console.WriteLine($"note: {note}");
                cli.Console.WriteLine($"wrote {outPath}: {report.Layers.Count} layers factorized; parameters {before.Parameters:N0} → {after.Parameters:N0}" +
                    (after.Comparison is not { Count: > 0 } ? "" : $"; in ONNX Runtime {ModelSide.Verdicts(after)} (p50 of interleaved runs)"));
            }
            run.Succeeded();
            return ShrinkApp.Ok;
        }));
        return command;
    }
}

internal sealed record FactorizedLayer(string Layer, int Rank, int FullRank);

internal sealed record FactorizeReport(string Model, string Out, double? Energy, double? Ratio, int FinetuneEpochs, IReadOnlyList<FactorizedLayer> Layers,
    ModelSide Before, ModelSide After, IReadOnlyList<string> Notes);
