using System.CommandLine;
using Shrink.Runtime;
using Spectre.Console;

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
            var batches = Options.ParseIntList("--batch", p.GetValue(batch)!);
            if (p.GetValue(warmup) < 0) throw new OptionsException($"--warmup {p.GetValue(warmup)} is out of range; use 0 or more");
            var options = new RunnerOptions { Threads = p.GetValue(threads), DimValues = Options.ParseDims(p.GetValue(dims)) };
            var files = new[] { p.GetValue(model)!, p.GetValue(vs) }.OfType<string>().ToArray();
            var rows = new List<BenchRow>();
            if (p.GetValue(saveOptimized) is { } ort && ort.EndsWith(".ort", StringComparison.OrdinalIgnoreCase))
                throw new OptionsException($"--save-optimized '{Text.Message.Name(ort)}': Shrink saves the optimized graph as ONNX, which it checks before moving it into place; give a path ending in .onnx");
            // ONNX Runtime writes the optimized graph itself: into a temporary file, checked, then renamed into place.
            using var optimized = p.GetValue(saveOptimized) is { } o ? Shrink.IO.StagedFile.Begin(o, Shrink.IO.OutputGuard.Protecting(files), "--save-optimized") : null;
            foreach (var file in files)
            {
                using var runner = OnnxRunner.Load(file, file == files[0] && optimized is not null ? options with { OptimizedModelPath = optimized.TempPath } : options);
                foreach (var b in batches) runner.CheckInputSizes(b);  // every batch size before the first is measured
                foreach (var b in batches)
                    rows.Add(BenchRow.From(file, Shrink.Stats.ModelStats.SizeOnDisk(file), runner.Benchmark(b, p.GetValue(warmup), p.GetValue(runs))));
            }
            IReadOnlyList<ProfileRow>? profiles = null;
            if (p.GetValue(profile) is { } profileBatch)
            {
                if (profileBatch < 1) throw new OptionsException($"--profile {profileBatch} is out of range; give a batch size of 1 or more");
                profiles = files.Select(f => Profile(f, options, profileBatch, p.GetValue(warmup), p.GetValue(runs))).ToArray();
            }
            if (optimized is not null)
            {
                OnnxRunner.CheckLoads(optimized.TempPath);
                optimized.Commit();
            }
            var report = new BenchReport(options.Threads, rows, files.Length == 2 ? Compare(files, batches, options, p.GetValue(warmup), p.GetValue(runs)) : null, profiles);
            if (p.GetValue(json)) cli.WriteJson(report);
            else Render(cli.Console, report);
            return ShrinkApp.Ok;
        }));
        return command;
    }

    /// <summary>Runs <paramref name="file"/> at one batch size in a profiling session and sums ONNX Runtime's kernel times per operator type.</summary>
    private static ProfileRow Profile(string file, RunnerOptions options, int batch, int warmup, int runs)
    {
        var prefix = Path.Combine(Path.GetTempPath(), $"shrink-profile-{Environment.ProcessId}");
        using var runner = OnnxRunner.Load(file, options with { ProfilePrefix = prefix });
        runner.Benchmark(batch, warmup, runs);
        return new ProfileRow(file, batch, runner.EndProfiling(warmup + runs));
    }

    /// <summary>MODEL against OTHER at each batch size, in interleaved rounds of 5 runs each (about --runs runs per model): the verdict rule of <see cref="LatencyComparison"/>.</summary>
    private static IReadOnlyList<LatencyComparisonRow> Compare(string[] files, int[] batches, RunnerOptions options, int warmup, int runs)
    {
        using var model = OnnxRunner.Load(files[0], options);
        using var other = OnnxRunner.Load(files[1], options);
        return LatencyComparison.Compare(other, model, batches, warmup, rounds: Math.Max(2, runs / 5), runsPerRound: 5);
    }

    private static void Render(IAnsiConsole c, BenchReport r)
    {
        var table = new Table().AddColumns("model", "size", "batch", "p50 ms", "p90 ms", "p99 ms", "mean ms", "samples/s");
        foreach (var row in r.Rows)
            table.AddRow(Markup.Escape(row.Model), Format.Bytes(row.Bytes), row.Batch.ToString(), Format.Ms(row.P50Ms), Format.Ms(row.P90Ms),
                Format.Ms(row.P99Ms), Format.Ms(row.MeanMs), row.Throughput.ToString("N0"));
        c.Write(table);
        c.WriteLine($"ONNX Runtime {(r.Threads == 0 ? "default" : r.Threads.ToString())} intra-op thread(s), {r.Rows.FirstOrDefault()?.Runs} timed runs per row");
        foreach (var s in r.Comparison ?? Array.Empty<LatencyComparisonRow>())
            c.WriteLine($"batch {s.Batch}: {r.Rows[0].Model} is {s.Words} (p50 {Format.Ms(s.Candidate.P50Ms)} against {Format.Ms(s.Baseline.P50Ms)} ms in {s.Candidate.Runs} interleaved runs each; " +
                $"interquartile ranges {Format.Ms(s.Candidate.Q1Ms)}–{Format.Ms(s.Candidate.Q3Ms)} and {Format.Ms(s.Baseline.Q1Ms)}–{Format.Ms(s.Baseline.Q3Ms)} ms)");
        foreach (var profile in r.Profiles ?? Array.Empty<ProfileRow>())
        {
            var t = new Table().AddColumns("operator (as run)", "nodes", "ms per run", "share");
            foreach (var op in profile.Ops)
                t.AddRow(Markup.Escape(op.OpType), op.Nodes.ToString(), op.MsPerRun.ToString("F3"), $"{op.Share:P1}");
            c.WriteLine($"profile of {profile.Model} at batch {profile.Batch} (kernel time, mean over warm-up and timed runs):");
            c.Write(t);
        }
    }
}

internal sealed record BenchRow(string Model, long Bytes, int Batch, int Runs, double P50Ms, double P90Ms, double P99Ms, double MeanMs, double Throughput)
{
    public static BenchRow From(string model, long bytes, LatencyResult l) =>
        new(model, bytes, l.Batch, l.Runs, l.P50Ms, l.P90Ms, l.P99Ms, l.MeanMs, l.Throughput);
}

internal sealed record ProfileRow(string Model, int Batch, IReadOnlyList<OpTime> Ops);

internal sealed record BenchReport(int Threads, IReadOnlyList<BenchRow> Rows, IReadOnlyList<LatencyComparisonRow>? Comparison, IReadOnlyList<ProfileRow>? Profiles);
