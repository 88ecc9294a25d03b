using System.CommandLine;
using Shrink.Cli.Reports;
using Shrink.Evaluation;
using Shrink.Onnx;
using Shrink.Runtime;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink compare A.onnx B.onnx [--data SPEC] [--samples N] [--top N] [--json]</c>: runs both models with every intermediate tensor
/// exposed and ranks the matching pairs by error, worst first (<see cref="TensorComparison"/>), so the layer where B breaks away from A
/// is found in one command.
/// </summary>
internal static class CompareCommand
{
    public static Command Create(CliContext cli)
    {
        var reference = new Argument<string>("A") { Description = "The reference ONNX model (the float model)" };
        var candidate = new Argument<string>("B") { Description = "The model compared with it (quantized, pruned, clustered, factorized)" };
        var samples = new Option<int>("--samples") { Description = "Samples compared: the first N of --data, or N random inputs", DefaultValueFactory = _ => 64 };
        var batch = new Option<int>("--batch") { Description = "Samples per run (every intermediate tensor of a batch is held at once)", DefaultValueFactory = _ => 16 };
        var top = new Option<int>("--top") { Description = "Tensors listed, worst first (--json lists all)", DefaultValueFactory = _ => 20 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random inputs (and of a --split-fraction)", DefaultValueFactory = _ => 0 };
        var data = new DataCli("Inputs to run both on, its test split (labels unused; default: seeded random inputs). " + DataCli.Description, seed);
        var (threads, dims, json) = (Options.Threads(), Options.Dims(), Options.Json());
        var command = new Command("compare", "Compare two models tensor by tensor (float vs quantized or compressed), ranked by error, to find the layer that breaks")
            { reference, candidate, samples, batch, top, seed, threads, dims, json };
        data.AddTo(command);
        command.SetAction(cli.Guard(p =>
        {
            if (p.GetValue(top) < 1) throw new OptionsException($"--top {p.GetValue(top)} is out of range; use 1 or more");
            var options = new TensorComparisonOptions { Samples = p.GetValue(samples), Batch = p.GetValue(batch), Seed = p.GetValue(seed) }.Validate();
            var (pathA, pathB) = (p.GetValue(reference)!, p.GetValue(candidate)!);
            var (a, b) = (OnnxReader.Read(pathA), OnnxReader.Read(pathB));
            var test = data.Optional(p, a, DataCli.Name(pathA))?.Test;
            var runner = new RunnerOptions { Threads = p.GetValue(threads), DimValues = Options.ParseDims(p.GetValue(dims)) };
            var result = TensorComparison.Compare(a, b, test, options, runner, pathA, pathB);
            if (p.GetValue(json)) cli.WriteJson(result);
            else CompareReport.Render(cli.Console, result, p.GetValue(top));
            return ShrinkApp.Ok;
        }));
        return command;
    }
}
