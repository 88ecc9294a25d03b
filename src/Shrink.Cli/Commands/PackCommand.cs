using System.CommandLine;
using Spectre.Console;
using Shrink.Container;
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
        var data = Options.Data();
        var output = new Option<string>("--out") { Description = ".shrink container to write", Required = true };
        var json = Options.Json();
        var command = new Command("pack", "Store a clustered model as a .shrink container (relative sparse indices, codebooks, Huffman coding) and print the size at each stage")
            { model, reference, data, output, json };
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(model)!;
            var outPath = p.GetValue(output)!;
            var guard = Options.CheckOutput(outPath, path, p.GetValue(reference));
            var clustered = OnnxReader.Read(path);
            var result = ShrinkContainer.Pack(clustered);
            // The container must give back exactly the clustered weights before it is written.
            var back = ShrinkContainer.Unpack(result.Bytes, outPath);
            // (Values compare as numbers: a −0 weight comes back as +0, which changes no output.)
            foreach (var t in result.Tensors)
                if (!back.Graph.FindInitializer(t.Name)!.Const!.AsFloats().SequenceEqual(clustered.Graph.FindInitializer(t.Name)!.Const!.AsFloats()))
                    throw new InvalidOperationException($"internal error: '{t.Name}' does not survive the container");
            // Everything that can fail (the reference, the data) runs before the container is written.
            var referenceBytes = Stats.ModelStats.SizeOnDisk(p.GetValue(reference) ?? path);
            double? accuracy = null;
            if (p.GetValue(data) is { } dir)
            {
                using var runner = OnnxRunner.FromModel(back, source: outPath);
                accuracy = runner.Evaluate(Data.FashionMnist.Load(dir).Test).Accuracy;
            }
            AtomicFile.WriteAllBytes(outPath, result.Bytes, guard);
            var report = new PackReport(path, outPath, referenceBytes, result.PrunedBytes, result.ClusteredBytes, result.Bytes.Length, result.GraphBytes,
                result.Tensors.Select(t => new PackLayer(t.Name, t.Elements, t.NonZero, (double)t.NonZero / t.Elements, t.IndexBits, t.ValueBits, t.BitsPerWeight)).ToList(),
                accuracy);
            if (p.GetValue(json)) cli.WriteJson(report);
            else Render(cli.Console, report);
            return ShrinkApp.Ok;
        }));
        return command;
    }

    public static Command CreateUnpack(CliContext cli)
    {
        var container = new Argument<string>("CONTAINER") { Description = ".shrink container" };
        var output = new Option<string>("--out") { Description = "ONNX model to write (the clustered model, exactly)", Required = true };
        var data = new Option<string?>("--data") { Description = "Fashion-MNIST directory or 'embedded': print the restored model's accuracy" };
        var command = new Command("unpack", "Restore the ONNX model from a .shrink container") { container, output, data };
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(container)!;
            var outPath = p.GetValue(output)!;
            var guard = Options.CheckOutput(outPath, path);
            if (!File.Exists(path)) throw new ModelFormatException($"'{path}' does not exist; check the path");
            if (IO.FileIdentity.NotRegular(path, "container") is { } problem) throw new ModelFormatException(problem);
            var model = ShrinkContainer.Unpack(File.ReadAllBytes(path), path);
            var (bytes, accuracy) = ModelSaver.Save(model, outPath, file =>
            {
                double? measured = null;
                if (p.GetValue(data) is { } dir)
                {
                    using var runner = OnnxRunner.Load(file);
                    measured = runner.Evaluate(Data.FashionMnist.Load(dir).Test).Accuracy;
                }
                return (new FileInfo(file).Length, measured);
            }, guard: guard);
            cli.Console.WriteLine($"wrote {outPath} ({Format.Bytes(bytes)}) from {path} ({Format.Bytes(new FileInfo(path).Length)})");
            if (accuracy is { } a) cli.Console.WriteLine($"accuracy (ONNX Runtime): {a:P2}");
            return ShrinkApp.Ok;
        }));
        return command;
    }

    private static void Render(IAnsiConsole c, PackReport r)
    {
        var stages = new Table().AddColumns("stage", "bytes", "smaller than the float ONNX file");
        stages.AddRow("float ONNX", r.ReferenceBytes.ToString("N0"), "1.0x");
        stages.AddRow("pruned (relative indices, float values)", r.PrunedBytes.ToString("N0"), $"{(double)r.ReferenceBytes / r.PrunedBytes:F1}x");
        stages.AddRow("+ clustered (indices, codebooks)", r.ClusteredBytes.ToString("N0"), $"{(double)r.ReferenceBytes / r.ClusteredBytes:F1}x");
        stages.AddRow("+ Huffman coded (the .shrink file)", r.ContainerBytes.ToString("N0"), $"{(double)r.ReferenceBytes / r.ContainerBytes:F1}x");
        c.Write(stages);
        var layers = new Table().AddColumns("weight", "elements", "non-zero", "index bits", "cluster bits", "bits per non-zero weight (coded)");
        foreach (var l in r.Layers)
            layers.AddRow(Markup.Escape(l.Weight), l.Elements.ToString("N0"), $"{l.NonZero:N0} ({l.Density:P1})", l.IndexBits.ToString(), l.ClusterBits.ToString(), l.BitsPerWeight.ToString("F2"));
        c.Write(layers);
        if (r.Accuracy is { } a) c.WriteLine($"accuracy of the unpacked model (ONNX Runtime): {a:P2}");
        c.WriteLine($"wrote {r.Out}: {r.ContainerBytes:N0} bytes ({r.GraphBytes:N0} of them the graph and unclustered tensors, compressed), {(double)r.ReferenceBytes / r.ContainerBytes:F1}x smaller than the float ONNX file");
    }
}

internal sealed record PackLayer(string Weight, long Elements, long NonZero, double Density, int IndexBits, int ClusterBits, double BitsPerWeight);

internal sealed record PackReport(string Model, string Out, long ReferenceBytes, long PrunedBytes, long ClusteredBytes, long ContainerBytes, long GraphBytes,
    IReadOnlyList<PackLayer> Layers, double? Accuracy);
