using System.CommandLine;
using Spectre.Console;
using Shrink.Cli.Reports;
using Shrink.Evaluation;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Precision;
using Shrink.Recipes;
using Shrink.Runtime;
using Shrink.Stats;
using Shrink.Techniques;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink convert IN --out OUT [--external-data] [--precision fp16|bf16 [--compute] [--keep-io-types false] [--float-ops A,B]]</c>:
/// reads and writes a model through the IR (lossless), or stores its weights in half precision (<see cref="HalfPrecisionPass"/>)
/// and prints the fidelity to the float model, the sizes and the latency.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var output = new Option<string>("--out") { Description = "Output ONNX file", Required = true };
        var external = new Option<bool>("--external-data") { Description = "Store initializers of 1 KiB or more in OUT.data beside the model (with --precision the default is as the input stores them; --external-data false writes them inline)" };
        var allowInvalid = new Option<bool>("--allow-invalid") { Description = "Write the model even if ONNX Runtime cannot load it (a warning says so); without it such a model is refused" };
        var precision = new Option<string?>("--precision") { Description = "Store float32 weights as fp16 or bf16 (default: convert losslessly)" };
        var compute = new Option<bool>("--compute") { Description = "With --precision: also compute in half precision where ONNX Runtime's CPU provider can (the other ops stay float32 behind Casts)" };
        var keepIo = new Option<bool>("--keep-io-types") { Description = "With --precision: keep the graph's inputs and outputs float32 (give false, with --compute, for half-precision inputs and outputs)", DefaultValueFactory = _ => true };
        var floatOps = new Option<string?>("--float-ops") { Description = "With --compute: op types that stay float32, comma-separated" };
        var benchBatch = new Option<string>("--bench-batch") { Description = "With --precision: batch sizes for the latency comparison with the float model ('none' to skip)", DefaultValueFactory = _ => "1" };
        var threads = Options.Threads();
        var dims = Options.Dims();
        var json = Options.Json();
        var recipe = new RecipeCli();
        var gate = new FidelityCli();
        var command = new Command("convert", "Read a model and write it back through Shrink's IR (lossless; optionally with external data), or with its weights in half precision")
            { model, output, external, allowInvalid, precision, compute, keepIo, floatOps, benchBatch, threads, dims, json };
        foreach (var o in recipe.All.Append(gate.MinFidelity)) command.Options.Add(o);
        cli.Flags(command, (nameof(PrecisionOptions.Format), "--precision"), (nameof(PrecisionOptions.FloatOps), "--float-ops"));
        command.SetAction(cli.Guard(p =>
        {
            var (input, outPath) = (p.GetValue(model)!, p.GetValue(output)!);
            var guard = Options.CheckOutput(outPath, input);
            if (p.GetValue(precision) is not { } format)
            {
                foreach (var (flag, given) in new[] { ("--compute", p.GetValue(compute)), ("--float-ops", p.GetValue(floatOps) is not null), ("--keep-io-types", !p.GetValue(keepIo)),
                             ("--save-recipe", p.GetValue(recipe.SaveRecipe) is not null), ("--dry-run", p.GetValue(recipe.DryRun)), ("--min-fidelity", p.GetValue(gate.MinFidelity) is not null) })
                    if (given) throw new OptionsException($"{flag} needs --precision fp16 or bf16");
                return Lossless(cli, p, input, outPath, p.GetValue(external), p.GetValue(allowInvalid), guard);
            }
            if (p.GetValue(allowInvalid)) throw new OptionsException("--allow-invalid writes a model unchanged; it cannot be given with --precision");
            var options = new PrecisionOptions
            {
                Format = PrecisionOptions.ParseFormat(format),
                Compute = p.GetValue(compute),
                KeepIoTypes = p.GetValue(keepIo),
                FloatOps = p.GetValue(floatOps)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(),
            }.Validate();
            var bench = p.GetValue(benchBatch) == "none" ? Array.Empty<int>() : Options.ParseIntList("--bench-batch", p.GetValue(benchBatch)!);
            var runner = new RunnerOptions { Threads = p.GetValue(threads), DimValues = Options.ParseDims(p.GetValue(dims)) };
            var fidelity = gate.Check(p, Text.OptionText.Plain("keep more in float32 (--float-ops, or drop --compute), or use fp16 rather than bf16"), recipe);
            if (recipe.Handle(cli, p, "convert-precision", options, RecipeModel.File(input), new RecipeData(), new RecipeRuntime { Threads = runner.Threads }, guard) is { } code)
                return code;
            var original = OnnxReader.Read(input);
            var result = TechniqueRegistry.Find("convert-precision").Run(original, options, new TechniqueInputs { Runner = runner }, cli.Session());
            var write = OnnxWriteOptions.ForResultOf(original);  // as the input stores its weights, unless --external-data is given
            if (p.GetResult(external) is { Implicit: false }) write = write with { ExternalData = p.GetValue(external) };
            var measured = ModelSaver.Save(result.Model, outPath, file => ModelEvaluation.Compare(input, file, null, bench, runner, naming: cli.Naming, fidelity: fidelity),
                write, guard: guard);
            var report = new PrecisionReport(input, outPath, options, measured.Before, measured.After, result.Notes.Concat(measured.Notes).ToList());
            if (p.GetValue(json)) cli.WriteJson(report);
            else report.Render(cli.Console);
            FidelityCli.Warn(cli, input, outPath, measured.After);
            return ShrinkApp.Ok;
        }));
        return command;
    }

    private static int Lossless(CliContext cli, ParseResult p, string input, string outPath, bool external, bool allow, IO.OutputGuard guard)
    {
        var m = OnnxReader.Read(input);
        if (allow && OnnxRunner.LoadFailure(input) is { } why)
            cli.Note($"warning: ONNX Runtime cannot load '{Text.Message.Name(input)}' ({why}); writing it unchanged as --allow-invalid asks, and the result will not load either");
        var options = new OnnxWriteOptions { ExternalData = external };
        var auto = OnnxWriter.AutoExternalNote(m, options);
        if (auto is not null) cli.Note($"note: {auto}");
        // The counts are the written model's (the same graph and weights); no weight is read for them.
        var s = ModelSaver.Save(m, outPath, file => ModelStats.Compute(m, ModelStats.SizeOnDisk(file), countUnloaded: false), options, requireRuntime: !allow, guard: guard);
        var stored = external ? " (with external data)" : auto is not null ? " (with external data: over protobuf's 2 GB limit)" : "";
        cli.Console.WriteLine($"wrote {outPath}: {m.Graph.Nodes.Count} nodes, {s.Parameters:N0} parameters, {Format.Bytes(s.BytesOnDisk)}{stored}");
        return ShrinkApp.Ok;
    }
}
