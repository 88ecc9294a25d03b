using System.CommandLine;
using Shrink.Onnx;
using Shrink.Stats;
using Shrink.Cli.Reports;
using Shrink.Ir;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink inspect MODEL [--dim NAME=SIZE] [--count-nonzero] [--json]</c>: header, inputs and outputs, statistics, per-layer
/// table, problems; MACs of layers on symbolic axes other than the batch (a transformer's sequence) at the --dim sizes.
/// </summary>
internal static class InspectCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var json = Options.Json();
        var count = new Option<bool>("--count-nonzero")
        {
            Description = "Also count the zeros of weights stored in external data (reads the data file through, a chunk at a time); without it their non-zero and sparsity show '-', and inspect reads no weight",
        };
        var dims = Options.Dims();
        dims.Description = "Size of a symbolic input dimension other than the batch, NAME=SIZE (repeatable), for the MACs of the layers it sizes (a transformer's sequence length); without it they are unknown";
        var command = new Command("inspect", "Show a model's inputs, outputs, parameters, sparsity, size, MACs and per-layer table") { model, json, count, dims };
        command.SetAction(cli.Guard(p => Execute(cli, p.GetValue(model)!, p.GetValue(json), p.GetValue(count), Options.ParseDims(p.GetValue(dims)))));
        return command;
    }

    private static int Execute(CliContext cli, string path, bool json, bool countExternal, IReadOnlyDictionary<string, long> dims)
    {
        var m = OnnxReader.Read(path);
        var problems = GraphValidator.Validate(m);
        var stats = problems.Count == 0 ? ModelStats.Compute(m, path, dims, countUnloaded: countExternal) : null;
        var report = InspectReport.From(path, m, stats, problems);
        if (json) cli.WriteJson(report);
        else report.Render(cli.Console);
        if (problems.Count == 0) return ShrinkApp.Ok;
        cli.Err.WriteLine($"error: '{path}' has {problems.Count} problem(s); the first: {problems[0]}");
        return ShrinkApp.BadInput;
    }
}
