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
        var command = new Command("convert", "Read a model and write it back through Shrink's IR (lossless; optionally with external data)") { model, output, external };
        command.SetAction(cli.Guard(p =>
        {
            var (input, outPath) = (p.GetValue(model)!, p.GetValue(output)!);
            Options.CheckOutput(outPath, input);
            var m = OnnxReader.Read(input);
            var inputLoads = LoadsInRuntime(input);
            if (!inputLoads) cli.Note($"note: ONNX Runtime cannot load '{input}' itself; writing it unchanged without that check");
            ModelSaver.Save(m, outPath, new OnnxWriteOptions { ExternalData = p.GetValue(external) }, requireRuntime: inputLoads);
            var s = ModelStats.Compute(outPath);
            cli.Console.WriteLine($"wrote {outPath}: {m.Graph.Nodes.Count} nodes, {s.Parameters:N0} parameters, {Format.Bytes(s.BytesOnDisk)}{(p.GetValue(external) ? " (with external data)" : "")}");
            return ShrinkApp.Ok;
        }));
        return command;
    }

    private static bool LoadsInRuntime(string path)
    {
        try { OnnxRunner.CheckLoads(path); return true; }
        catch (RuntimeFailureException) { return false; }
    }
}
