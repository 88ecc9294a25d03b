using System.CommandLine;
using Spectre.Console;
using Shrink.Cli.Reports;
using Shrink.Container;
using Shrink.Evaluation;
using Shrink.IO;
using Shrink.Onnx;
using Shrink.Runtime;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink pack MODEL --out M.shrink [--reference FLOAT.onnx] [--data DIR] [--json]</c> and
/// <c>shrink unpack M.shrink --out M.onnx</c>: the Deep Compression container and its per-stage table.
/// </summary>
internal static class PackCommand
{
    public static Command CreatePack(CliContext cli)
    {
        var model = Options.Model();
        var reference = new Option<string?>("--reference") { Description = "The float ONNX file the ratios are taken against (default: MODEL's own file, the same size when MODEL is a clustered float model)" };
        var data = new DataCli();
        var output = new Option<string>("--out") { Description = ".shrink container to write", Required = true };
        var json = Options.Json();
        var command = new Command("pack", "Store a clustered model as a .shrink container (relative sparse indices, codebooks, Huffman coding) and print the size at each stage")
            { model, reference, output, json };
        data.AddTo(command);
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(model)!;
            var outPath = p.GetValue(output)!;
            var guard = Options.CheckOutput(outPath, path, p.GetValue(reference));
            var original = OnnxReader.Read(path);
            var (result, back) = ShrinkContainer.PackVerified(original, outPath);
            // Everything that can fail (the reference, the data) runs before the container is written.
            var referenceBytes = Stats.ModelStats.SizeOnDisk(p.GetValue(reference) ?? path);
            var test = data.Optional(p, back, DataCli.Name(path))?.Test;
            double? accuracy = test is { ClassCount: not null } ? ModelEvaluation.Accuracy(back, test, outPath) : null;
            var fidelity = test is { ClassCount: null } ? Fidelity.Measure(original, back, test) : null;
            AtomicFile.WriteAllBytes(outPath, result.Bytes, guard);
            var report = PackReport.From(path, outPath, referenceBytes, result, accuracy) with { Data = test?.Name, Fidelity = fidelity };
            if (p.GetValue(json)) cli.WriteJson(report);
            else report.Render(cli.Console);
            return ShrinkApp.Ok;
        }));
        return command;
    }

    public static Command CreateUnpack(CliContext cli)
    {
        var container = new Argument<string>("CONTAINER") { Description = ".shrink container" };
        var output = new Option<string>("--out") { Description = "ONNX model to write (the clustered model, exactly)", Required = true };
        var data = new DataCli("Print the restored model's accuracy on this data's test split (labelled data)");
        var command = new Command("unpack", "Restore the ONNX model from a .shrink container") { container, output };
        data.AddTo(command);
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(container)!;
            var outPath = p.GetValue(output)!;
            var guard = Options.CheckOutput(outPath, path);
            if (!File.Exists(path)) throw new ModelFormatException($"'{path}' does not exist; check the path");
            if (IO.FileIdentity.NotRegular(path, "container") is { } problem) throw new ModelFormatException(problem);
            var model = ShrinkContainer.Unpack(File.ReadAllBytes(path), path);
            var test = data.Optional(p, model, DataCli.Name(path))?.Test;
            if (test is { ClassCount: null }) throw new DataException($"{test.Name} has no labels; unpack prints accuracy on labelled data (the restored model is the packed one exactly)");
            var (bytes, accuracy) = ModelSaver.Save(model, outPath,
                file => (new FileInfo(file).Length, test is null ? (double?)null : ModelEvaluation.Accuracy(file, test)), guard: guard);
            cli.Console.WriteLine($"wrote {outPath} ({Format.Bytes(bytes)}) from {path} ({Format.Bytes(new FileInfo(path).Length)})");
            if (accuracy is { } a) cli.Console.WriteLine($"accuracy (ONNX Runtime): {a:P2} on {test!.Name}");
            return ShrinkApp.Ok;
        }));
        return command;
    }
}
