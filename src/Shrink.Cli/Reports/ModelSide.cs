using System.IO.Compression;
using Spectre.Console;
using Shrink.Data;
using Shrink.Runtime;
using Shrink.Stats;

namespace Shrink.Cli.Reports;

/// <summary>ONNX Runtime p50 latency at one batch size.</summary>
internal sealed record LatencyRow(int Batch, double P50Ms);

/// <summary>
/// One side of a before/after comparison of a model file: size on disk and gzip -9, parameters,
/// non-zeros, MACs, accuracy and latency in ONNX Runtime — what every compression command prints.
/// </summary>
internal sealed record ModelSide(long Bytes, long GzipBytes, long PackedBytes, long Parameters, long NonZero, double Sparsity, long Macs,
    IReadOnlyList<LatencyRow> Latency, double? Accuracy)
{
    /// <summary>On the "after" side of a pair: the interleaved latency comparison with the "before" side, per batch size.</summary>
    public IReadOnlyList<LatencyComparisonRow>? Comparison { get; init; }

    /// <summary>Size, parameters, MACs and (with <paramref name="test"/>) accuracy of one model file; no latency.</summary>
    public static (ModelSide Side, ModelStats Stats) Measure(string path, Dataset? test)
    {
        var stats = ModelStats.Compute(path);
        var bytes = File.ReadAllBytes(path);
        using var compressed = new MemoryStream();
        using (var gz = new GZipStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true)) gz.Write(bytes);
        double? accuracy = null;
        if (test is not null)
        {
            using var runner = OnnxRunner.Load(path);
            accuracy = runner.Evaluate(test, 256).Accuracy;
        }
        return (new ModelSide(stats.BytesOnDisk, compressed.Length, stats.PackedBytes, stats.Parameters, stats.NonZero, stats.Sparsity, stats.Macs,
            Array.Empty<LatencyRow>(), accuracy), stats);
    }

    /// <summary>
    /// Both sides of a before/after comparison, with their latency measured together, interleaved, at each
    /// batch size (<see cref="LatencyComparison"/>): the p50 rows and the verdict always come from the same runs.
    /// </summary>
    public static (ModelSide Before, ModelSide After, ModelStats AfterStats) MeasurePair(string beforePath, string afterPath, Dataset? test,
        int[] batches, RunnerOptions options, List<string> notes)
    {
        var (before, _) = Measure(beforePath, test);
        var (after, stats) = Measure(afterPath, test);
        if (batches.Length == 0) return (before, after, stats);
        using var a = OnnxRunner.Load(beforePath, options);
        using var b = OnnxRunner.Load(afterPath, options);
        var rows = new List<LatencyComparisonRow>();
        foreach (var batch in batches)
        {
            try { rows.AddRange(LatencyComparison.Compare(a, b, new[] { batch })); }
            catch (OptionsException e)
            {
                notes.Add($"latency not measured: {e.Message}");
                break;
            }
        }
        return (before with { Latency = rows.Select(r => new LatencyRow(r.Batch, r.Baseline.P50Ms)).ToList() },
            after with { Latency = rows.Select(r => new LatencyRow(r.Batch, r.Candidate.P50Ms)).ToList(), Comparison = rows }, stats);
    }

    /// <summary>Faster when the interleaved comparison says so at every measured batch size (interquartile ranges apart).</summary>
    public static bool Faster(ModelSide before, ModelSide after) =>
        after.Comparison is { Count: > 0 } rows && rows.All(r => r.Verdict == LatencyVerdict.Faster);

    /// <summary>Latency ratio (before / after p50) per measured batch size.</summary>
    public static IReadOnlyList<double> Speedups(ModelSide before, ModelSide after) =>
        after.Comparison?.Select(r => r.Speedup).ToList() ?? (IReadOnlyList<double>)Array.Empty<double>();

    /// <summary>The comparison in words, per batch size: "1.42x faster at batch 1, NOT faster: within noise (1.03x, …) at batch 256".</summary>
    public static string Verdicts(ModelSide after) =>
        string.Join(", ", (after.Comparison ?? Array.Empty<LatencyComparisonRow>()).Select(r => $"{r.Words} at batch {r.Batch}"));

    /// <summary>The common rows of the before/after table.</summary>
    public static Table Table(ModelSide before, ModelSide after)
    {
        var table = new Table().AddColumns("", "before", "after");
        table.AddRow("file", Format.Bytes(before.Bytes), Format.Bytes(after.Bytes));
        table.AddRow("file, gzip -9", Format.Bytes(before.GzipBytes), Format.Bytes(after.GzipBytes));
        table.AddRow("parameters, packed", Format.Bytes(before.PackedBytes), Format.Bytes(after.PackedBytes));
        table.AddRow("parameters", before.Parameters.ToString("N0"), after.Parameters.ToString("N0"));
        table.AddRow("non-zero", before.NonZero.ToString("N0"), after.NonZero.ToString("N0"));
        table.AddRow("sparsity", before.Sparsity.ToString("P1"), after.Sparsity.ToString("P1"));
        table.AddRow("MACs per sample", Format.Macs(before.Macs, true), Format.Macs(after.Macs, true));
        if (before.Accuracy is { } a0 && after.Accuracy is { } a1) table.AddRow("accuracy (ONNX Runtime)", a0.ToString("P2"), a1.ToString("P2"));
        foreach (var (l0, l1) in before.Latency.Zip(after.Latency))
            table.AddRow($"p50 latency, batch {l0.Batch}", $"{Format.Ms(l0.P50Ms)} ms", $"{Format.Ms(l1.P50Ms)} ms");
        return table;
    }
}
