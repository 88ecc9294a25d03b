using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Shrink.Cli.Reports;
using Shrink.Data;
using Shrink.IO;
using Shrink.Onnx;
using Shrink.Passes.Pruning;
using Shrink.Runtime;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink sensitivity MODEL [--data DIR] --out DIR</c>: prunes each layer alone at sparsities
/// 0.1…0.9 and measures ONNX Runtime accuracy; writes a table, sensitivity.json, sensitivity.png and
/// layers.json (per-layer sparsities within --max-drop, for <c>shrink prune --layers</c>).
/// </summary>
internal static class SensitivityCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var data = Options.Data();
        var output = new Option<string>("--out") { Description = "Directory for sensitivity.json, sensitivity.png and layers.json", Required = true };
        var method = new Option<string>("--method") { Description = "magnitude or random", DefaultValueFactory = _ => "magnitude" };
        var sparsities = new Option<string>("--sparsities") { Description = "Sparsities to try, comma separated", DefaultValueFactory = _ => "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9" };
        var limit = new Option<int?>("--limit") { Description = "Evaluate on the first N test images only" };
        var maxDrop = new Option<double>("--max-drop") { Description = "Accuracy drop (points) allowed per layer in layers.json", DefaultValueFactory = _ => 1.0 };
        var threads = Options.Threads();
        var json = Options.Json();
        var command = new Command("sensitivity", "Prune each layer alone at increasing sparsity and measure accuracy: table, JSON, PNG plot, suggested per-layer sparsities")
            { model, data, output, method, sparsities, limit, maxDrop, threads, json };
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(model)!;
            var dir = p.GetValue(output)!;
            if (File.Exists(dir)) throw new OptionsException($"--out '{Text.Message.Name(dir)}' is a file; give a directory");
            var guard = IO.OutputGuard.Protecting(path);
            var files = new[] { "sensitivity.json", "layers.json", "sensitivity.png" }.Select(f => Path.Combine(dir, f)).ToArray();
            if (Directory.Exists(dir)) foreach (var f in files) guard.Check(f);
            var list = p.GetValue(sparsities)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(v => double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d)
                    ? d : throw new OptionsException($"--sparsities '{v}' is not a number; write e.g. --sparsities 0.5,0.9")).ToList();
            if (p.GetValue(maxDrop) is < 0 or > 100 or double.NaN) throw new OptionsException($"--max-drop must be in [0, 100] points, got {p.GetValue(maxDrop)}");
            var n = Options.CheckLimit(p.GetValue(limit));
            var m = OnnxReader.Read(path);
            var test = FashionMnist.Load(p.GetValue(data)).Test;
            if (n is { } k) test = test.Take(k);
            var report = SensitivityAnalysis.Run(m, test, list, p.GetValue(method)!, new RunnerOptions { Threads = p.GetValue(threads) },
                (layer, s, a) => cli.Note($"{layer} at {s:P0}: {a:P2}"));
            var suggested = report.Suggest(p.GetValue(maxDrop) / 100);

            var options = new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
            var contents = new[]
            {
                System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(report, options)),
                System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(suggested, options)),
                Plots.Sensitivity(report, $"Sensitivity of {Path.GetFileName(path)} ({report.Method}, {report.Samples:N0} test images)"),
            };
            var created = !Directory.Exists(dir);
            IO.OutputDirectory.Create(dir, "--out");
            var staged = new List<IO.StagedFile>();
            var written = false;
            try
            {
                foreach (var f in files) staged.Add(IO.StagedFile.Begin(f, guard));
                foreach (var (s, bytes) in staged.Zip(contents)) s.Write(stream => stream.Write(bytes));
                foreach (var s in staged) s.Commit();
                written = true;
            }
            finally
            {
                foreach (var s in staged) s.Dispose();
                if (!written && created && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);  // no trace of a failed run
            }

            if (p.GetValue(json)) cli.WriteJson(new { report, suggested, files = new[] { "sensitivity.json", "sensitivity.png", "layers.json" }.Select(f => Path.Combine(dir, f)) });
            else
            {
                var table = new Table().AddColumn("layer").AddColumn("weights");
                foreach (var s in list) table.AddColumn(s.ToString("P0"));
                foreach (var l in report.Layers)
                    table.AddRow(new[] { Markup.Escape(l.Layer), l.Weights.ToString("N0") }.Concat(l.Points.Select(pt => pt.Accuracy.ToString("P2"))).ToArray());
                cli.Console.Write(table);
                cli.Console.WriteLine($"dense accuracy {report.BaselineAccuracy:P2} on {report.Samples:N0} test images");
                cli.Console.WriteLine($"within {p.GetValue(maxDrop):G} point(s): {(suggested.Count == 0 ? "no layer" : string.Join(", ", suggested.Select(kv => $"{kv.Key} {kv.Value:P0}")))}");
                cli.Console.WriteLine($"wrote {Path.Combine(dir, "sensitivity.json")}, sensitivity.png, layers.json (use: shrink prune MODEL --layers {Path.Combine(dir, "layers.json")})");
            }
            return ShrinkApp.Ok;
        }));
        return command;
    }
}
