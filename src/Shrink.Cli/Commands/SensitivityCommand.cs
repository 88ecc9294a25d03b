using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Shrink.Cli.Reports;
using Shrink.Onnx;
using Shrink.Passes.Pruning;
using Shrink.Runtime;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink sensitivity MODEL [--data DIR] --out DIR</c>: prunes each layer alone at sparsities
/// 0.1…0.9 and measures ONNX Runtime accuracy (<see cref="SensitivityAnalysis"/>); writes a table, sensitivity.json,
/// sensitivity.png and layers.json (per-layer sparsities within --max-drop, for <c>shrink prune --layers</c>).
/// </summary>
internal static class SensitivityCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var data = new DataCli();
        var output = new Option<string>("--out") { Description = "Directory for sensitivity.json, sensitivity.png and layers.json", Required = true };
        var method = new Option<string>("--method") { Description = "magnitude or random", DefaultValueFactory = _ => "magnitude" };
        var sparsities = new Option<string>("--sparsities") { Description = "Sparsities to try, comma separated", DefaultValueFactory = _ => "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9" };
        var limit = new Option<int?>("--limit") { Description = "Evaluate on the first N test samples only" };
        var maxDrop = new Option<double>("--max-drop") { Description = "Accuracy drop (points) allowed per layer in layers.json", DefaultValueFactory = _ => 1.0 };
        var threads = Options.Threads();
        var json = Options.Json();
        var command = new Command("sensitivity", "Prune each layer alone at increasing sparsity and measure accuracy: table, JSON, PNG plot, suggested per-layer sparsities")
            { model, output, method, sparsities, limit, maxDrop, threads, json };
        data.AddTo(command);
        command.SetAction(cli.Guard(p =>
        {
            var path = p.GetValue(model)!;
            var dir = p.GetValue(output)!;
            if (File.Exists(dir)) throw new OptionsException($"--out '{Text.Message.Name(dir)}' is a file; give a directory");
            var guard = IO.OutputGuard.Protecting(path);
            if (Directory.Exists(dir)) foreach (var f in SensitivityFiles.Names) guard.Check(Path.Combine(dir, f));
            var options = new SensitivityOptions
            {
                Sparsities = ParseSparsities(p.GetValue(sparsities)!), Method = ParseMethod(p.GetValue(method)!), MaxDrop = p.GetValue(maxDrop),
                Limit = Options.CheckLimit(p.GetValue(limit)),
            }.Validate();
            var original = OnnxReader.Read(path);
            var test = data.Open(p, original, DataCli.Name(path)).Test;
            var report = SensitivityAnalysis.Run(original, test, options, new RunnerOptions { Threads = p.GetValue(threads) },
                (layer, s, a) => cli.Note($"{layer} at {s:P0}: {a:P2}"));
            var suggested = report.Suggest(options.MaxDrop / 100);
            SensitivityFiles.Write(dir, guard, report, suggested, $"Sensitivity of {Path.GetFileName(path)} ({report.Method}, {report.Samples:N0} test samples, {report.Metric})");
            if (p.GetValue(json)) cli.WriteJson(new { report, suggested, files = new[] { "sensitivity.json", "sensitivity.png", "layers.json" }.Select(f => Path.Combine(dir, f)) });
            else Render(cli.Console, report, suggested, options, dir);
            return ShrinkApp.Ok;
        }));
        return command;
    }

    private static List<double> ParseSparsities(string value)
    {
        var list = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
                ? d : throw new OptionsException($"--sparsities '{v}' is not a number; write e.g. --sparsities 0.5,0.9")).ToList();
        if (list.Count == 0) throw new OptionsException("give at least one sparsity, e.g. --sparsities 0.5,0.9");
        foreach (var s in list)
            if (double.IsNaN(s) || s < 0 || s >= 1) throw new OptionsException($"the sparsity of --sparsities is {s}; it must be in [0, 1), e.g. 0.9 for 90 % zeros");
        return list;
    }

    private static PruneMethod ParseMethod(string name) => name is "magnitude" or "random"
        ? PruneMethods.Parse(name)!.Value
        : throw new OptionsException($"sensitivity analysis prunes by magnitude or random, not '{name}'");

    private static void Render(IAnsiConsole console, SensitivityReport report, IReadOnlyDictionary<string, double> suggested, SensitivityOptions options, string dir)
    {
        var table = new Table().AddColumn("layer").AddColumn("weights");
        foreach (var s in options.Sparsities) table.AddColumn(s.ToString("P0"));
        foreach (var l in report.Layers)
            table.AddRow(new[] { Markup.Escape(l.Layer), l.Weights.ToString("N0") }.Concat(l.Points.Select(pt => pt.Accuracy.ToString("P2"))).ToArray());
        console.Write(table);
        console.WriteLine(report.Metric == SensitivityAnalysis.AccuracyMetric
            ? $"dense accuracy {report.BaselineAccuracy:P2} on {report.Samples:N0} test images ({report.Data})"
            : $"no labels in {report.Data}: each point is the first output's {report.Metric} with the dense model, on {report.Samples:N0} test samples");
        console.WriteLine($"within {options.MaxDrop:G} point(s): {(suggested.Count == 0 ? "no layer" : string.Join(", ", suggested.Select(kv => $"{kv.Key} {kv.Value:P0}")))}");
        console.WriteLine($"wrote {Path.Combine(dir, "sensitivity.json")}, sensitivity.png, layers.json (use: shrink prune MODEL --layers {Path.Combine(dir, "layers.json")})");
    }
}
