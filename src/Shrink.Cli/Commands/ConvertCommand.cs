using System.CommandLine;
using Spectre.Console;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Stats;

namespace Shrink.Cli.Commands;

/// <summary><c>shrink convert IN --out OUT [--external-data]</c>: reads and writes a model through the IR (lossless).</summary>
internal static class ConvertCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var output = new Option<string>("--out") { Description = "Output ONNX file", Required = true };
        var external = new Option<bool>("--external-data") { Description = "Store initializers of 1 KiB or more in OUT.data beside the model" };
        var allowInvalid = new Option<bool>("--allow-invalid") { Description = "Write the model even if ONNX Runtime cannot load it (a warning says so); without it such a model is refused" };
        var command = new Command("convert", "Read a model and write it back through Shrink's IR (lossless; optionally with external data)") { model, output, external, allowInvalid };
        command.SetAction(cli.Guard(p =>
        {
            var (input, outPath) = (p.GetValue(model)!, p.GetValue(output)!);
            var guard = Options.CheckOutput(outPath, input);
            var m = OnnxReader.Read(input);
            var allow = p.GetValue(allowInvalid);
            if (allow && LoadFailure(input) is { } why)
                cli.Note($"warning: ONNX Runtime cannot load '{Text.Message.Name(input)}' ({why}); writing it unchanged as --allow-invalid asks, and the result will not load either");
            var s = ModelSaver.Save(m, outPath, ModelStats.Compute, new OnnxWriteOptions { ExternalData = p.GetValue(external) }, requireRuntime: !allow, guard: guard);
            cli.Console.WriteLine($"wrote {outPath}: {m.Graph.Nodes.Count} nodes, {s.Parameters:N0} parameters, {Format.Bytes(s.BytesOnDisk)}{(p.GetValue(external) ? " (with external data)" : "")}");
            return ShrinkApp.Ok;
        }));
        return command;
    }

    private static string? LoadFailure(string path)
    {
        try { OnnxRunner.CheckLoads(path); return null; }
        catch (RuntimeFailureException e) { return e.Message; }
    }
}
