using System.CommandLine;
using Shrink.Cli.Reports;
using Shrink.Evaluation;
using Shrink.Runtime;

namespace Shrink.Cli.Commands;

/// <summary><c>shrink bench MODEL [--vs OTHER] [--batch 1,256] [--json]</c>: ONNX Runtime latency percentiles, side by side.</summary>
internal static class BenchCommand
{
    public static Command Create(CliContext cli)
    {
        var model = Options.Model();
        var vs = new Option<string?>("--vs") { Description = "A second model to measure in the same run (e.g. the original)" };
        var batch = new Option<string>("--batch") { Description = "Batch sizes, comma separated", DefaultValueFactory = _ => "1,256" };
        var runs = new Option<int>("--runs") { Description = "Timed runs per batch size", DefaultValueFactory = _ => 50 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up runs", DefaultValueFactory = _ => 10 };
        var threads = Options.Threads();
        var dims = Options.Dims();
        var json = Options.Json();
        var saveOptimized = new Option<string?>("--save-optimized") { Description = "Write the graph ONNX Runtime runs for MODEL (after its fusions) to this file, to see which layers became integer or fused kernels" };
        var profile = new Option<int?>("--profile") { Description = "Also profile each model at this batch size and print the time ONNX Runtime spends per operator type (after its fusions)" };
        var command = new Command("bench", "Measure ONNX Runtime latency (p50/p90/p99) at batch sizes, optionally against another model")
            { model, vs, batch, runs, warmup, threads, dims, saveOptimized, profile, json };
        command.SetAction(cli.Guard(p =>
        {
            var settings = new BenchSettings
            {
                Batches = Options.ParseIntList("--batch", p.GetValue(batch)!), Warmup = p.GetValue(warmup), Runs = p.GetValue(runs),
                Runner = new RunnerOptions { Threads = p.GetValue(threads), DimValues = Options.ParseDims(p.GetValue(dims)) },
            }.Validate();
            var files = new[] { p.GetValue(model)!, p.GetValue(vs) }.OfType<string>().ToArray();
            if (p.GetValue(saveOptimized) is { } ort && ort.EndsWith(".ort", StringComparison.OrdinalIgnoreCase))
                throw new OptionsException($"--save-optimized '{Text.Message.Name(ort)}': Shrink saves the optimized graph as ONNX, which it checks before moving it into place; give a path ending in .onnx");
            // ONNX Runtime writes the optimized graph itself: into a temporary file, checked, then renamed into place.
            using var optimized = p.GetValue(saveOptimized) is { } o ? Shrink.IO.StagedFile.Begin(o, Shrink.IO.OutputGuard.Protecting(files), "--save-optimized") : null;
            var result = Bench.Run(files[0], files.ElementAtOrDefault(1), settings, optimized?.TempPath);
            var profiles = p.GetValue(profile) is { } profileBatch ? files.Select(f => Bench.Profile(f, settings, profileBatch)).ToArray() : null;
            if (optimized is not null)
            {
                OnnxRunner.CheckLoads(optimized.TempPath);
                optimized.Commit();
            }
            var report = new BenchReport(settings.Runner.Threads, result.Rows, result.Comparison, profiles);
            if (p.GetValue(json)) cli.WriteJson(report);
            else report.Render(cli.Console);
            return ShrinkApp.Ok;
        }));
        return command;
    }
}
