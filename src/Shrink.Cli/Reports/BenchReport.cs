using Spectre.Console;
using Shrink.Evaluation;
using Shrink.Runtime;

namespace Shrink.Cli.Reports;

/// <summary>What <c>shrink bench</c> prints: the latency rows, the verdict against the other model with the numbers it rests on, the profiles.</summary>
internal sealed record BenchReport(int Threads, IReadOnlyList<BenchRow> Rows, IReadOnlyList<LatencyComparisonRow>? Comparison, IReadOnlyList<ProfileRow>? Profiles)
{
    public void Render(IAnsiConsole c)
    {
        var table = new Table().AddColumns("model", "size", "batch", "p50 ms", "p90 ms", "p99 ms", "mean ms", "samples/s");
        foreach (var row in Rows)
            table.AddRow(Markup.Escape(row.Model), Format.Bytes(row.Bytes), row.Batch.ToString(), Format.Ms(row.P50Ms), Format.Ms(row.P90Ms),
                Format.Ms(row.P99Ms), Format.Ms(row.MeanMs), row.Throughput.ToString("N0"));
        c.Write(table);
        c.WriteLine($"ONNX Runtime {(Threads == 0 ? "default" : Threads.ToString())} intra-op thread(s), {Rows.FirstOrDefault()?.Runs} timed runs per row" +
            (Comparison is { Count: > 0 } ? " (both models in the same interleaved rounds)" : ""));
        foreach (var s in Comparison ?? Array.Empty<LatencyComparisonRow>())
            c.WriteLine($"batch {s.Batch}: {Rows[0].Model} is {s.Words} (p50 {Format.Ms(s.Candidate.P50Ms)} against {Format.Ms(s.Baseline.P50Ms)} ms in {s.Candidate.Runs} interleaved runs each; " +
                $"interquartile ranges {Format.Ms(s.Candidate.Q1Ms)}–{Format.Ms(s.Candidate.Q3Ms)} and {Format.Ms(s.Baseline.Q1Ms)}–{Format.Ms(s.Baseline.Q3Ms)} ms)");
        foreach (var profile in Profiles ?? Array.Empty<ProfileRow>())
        {
            var t = new Table().AddColumns("operator (as run)", "nodes", "ms per run", "share");
            foreach (var op in profile.Ops)
                t.AddRow(Markup.Escape(op.OpType), op.Nodes.ToString(), op.MsPerRun.ToString("F3"), $"{op.Share:P1}");
            c.WriteLine($"profile of {profile.Model} at batch {profile.Batch} (kernel time, mean over warm-up and timed runs):");
            c.Write(t);
        }
    }
}
