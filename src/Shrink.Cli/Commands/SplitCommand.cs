using System.CommandLine;
using Spectre.Console;
using Shrink.IO;
using Shrink.Onnx;
using Shrink.Passes.Deployment;
using Shrink.Runtime.Split;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink split MODEL (--parts K | --max-part-bytes B | --max-part-memory B [--batch N]) --out DIR [--no-check] [--json]</c>:
/// cuts a model into parts that run one after another (<see cref="SplitPass"/>), writes one ONNX file per part and
/// <c>manifest.json</c> (<see cref="SplitWriter"/>), and checks the parts against the whole model (<see cref="SplitCheck"/>).
/// </summary>
internal static class SplitCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var parts = new Option<int?>("--parts") { Description = "Cut into this many parts of similar weight" };
        var maxBytes = new Option<string?>("--max-part-bytes") { Description = "Keep each part's weights under this size (bytes, or with KB/KiB/MB/MiB/GB/GiB)" };
        var maxMemory = new Option<string?>("--max-part-memory") { Description = "Keep each part's weights plus its peak activation memory at --batch under this size" };
        var batch = new Option<int>("--batch") { Description = "Batch size the activation sizes are estimated at (and the check runs at)", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--out") { Description = "Directory for part-NN.onnx and manifest.json (created if missing)", Required = true };
        var noCheck = new Option<bool>("--no-check") { Description = "Do not run the parts against the whole model after writing them" };
        var json = Options.Json();
        var command = new Command("split", "Cut a model into parts that load and run one after another (devices with little memory, pipelines), with a manifest")
            { model, parts, maxBytes, maxMemory, batch, output, noCheck, json };
        command.SetAction(cli.Guard(p =>
        {
            var (path, dir) = (p.GetValue(model)!, p.GetValue(output)!);
            var options = new SplitOptions
            {
                Parts = p.GetValue(parts),
                MaxPartBytes = p.GetValue(maxBytes) is { } b ? Options.ParseBytes("--max-part-bytes", b) : null,
                MaxPartMemory = p.GetValue(maxMemory) is { } m ? Options.ParseBytes("--max-part-memory", m) : null,
                Batch = p.GetValue(batch),
            }.Validate();
            var guard = OutputGuard.Protecting(path);
            CheckDirectory(dir, path);
            var whole = OnnxReader.Read(path);
            var plan = new SplitPass(options).Plan(whole);
            var created = !Directory.Exists(dir);
            SplitManifest manifest;
            try { manifest = SplitWriter.Write(whole, plan, OutputDirectory.Create(dir, "--out"), path, guard); }
            catch
            {
                // nothing was written into it (the writer removed what it staged): leave no empty directory behind either
                if (created && Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
                throw;
            }
            var check = p.GetValue(noCheck) ? null : Check(cli, whole, Path.Combine(dir, SplitManifest.FileName), options.Batch);
            if (p.GetValue(json)) cli.WriteJson(new { manifest = Path.Combine(dir, SplitManifest.FileName), plan, check });
            else Render(cli, manifest, plan, dir, check);
            return ShrinkApp.Ok;
        }));
        return command;
    }

    /// <summary>The parts against the whole model on seeded random inputs; a model Shrink cannot make random inputs for is noted and not checked.</summary>
    private static SplitComparison? Check(CliContext cli, Ir.Model whole, string manifest, int batch)
    {
        try { return SplitCheck.Compare(whole, manifest, batch); }
        catch (OptionsException e)
        {
            cli.Note($"check skipped: {e.Message}");
            return null;
        }
    }

    /// <summary>Refuses, before any work, an --out that is something other than a directory or that holds one of the inputs.</summary>
    private static void CheckDirectory(string dir, string input)
    {
        if (string.IsNullOrWhiteSpace(dir)) throw new OptionsException("--out is empty; give a directory path");
        var kind = FileIdentity.Of(dir).Kind;
        if (kind is not (FileKind.Missing or FileKind.Directory))
            throw new OptionsException($"--out '{Text.Message.Name(dir)}' is {FileIdentity.Describe(kind)}, not a directory; give a directory path");
        var inside = Path.GetFullPath(Path.GetDirectoryName(Path.GetFullPath(input))!) == Path.GetFullPath(dir);
        var named = Path.GetFileName(input);
        if (inside && (named == SplitManifest.FileName || named.StartsWith("part-", StringComparison.Ordinal)))
            throw new OptionsException($"--out '{Text.Message.Name(dir)}' holds the input '{Text.Message.Name(named)}', which the split would replace; give another directory");
    }

    private static void Render(CliContext cli, SplitManifest manifest, SplitPlan plan, string dir, SplitComparison? check)
    {
        var table = new Table().AddColumns("part", "nodes", "from → to", "weights", "peak activations", "inputs", "outputs", "file");
        foreach (var part in manifest.Parts)
            table.AddRow((part.Index + 1).ToString(), part.Nodes.ToString(), Markup.Escape($"{part.FirstNode} → {part.LastNode}"), Format.Bytes(part.WeightBytes),
                Format.Bytes(part.PeakActivationBytes), part.Inputs.Count.ToString(), part.Outputs.Count.ToString(), $"{part.File} ({Format.Bytes(part.FileBytes)})");
        cli.Console.Write(table);
        cli.Console.WriteLine($"wrote {manifest.Parts.Count} parts and {SplitManifest.FileName} in {dir}: {SplitTechnique.Describe(plan)}");
        if (check is null) return;
        cli.Console.WriteLine(check.Identical
            ? $"check: the parts run one after another give the whole model's outputs bit for bit ({check.Values:N0} values, seeded random inputs at batch {check.Batch})"
            : $"check: {check.Differing:N0} of {check.Values:N0} output values differ from the whole model's (largest difference {check.MaxAbsDifference:G3})");
    }
}
