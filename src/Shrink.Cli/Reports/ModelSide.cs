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
    public static (ModelSide Side, ModelStats Stats) Measure(string path, Dataset? test, int[] batches, RunnerOptions options, List<string> notes)
    {
        var stats = ModelStats.Compute(path);
        var bytes = File.ReadAllBytes(path);
        using var compressed = new MemoryStream();
        using (var gz = new GZipStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true)) gz.Write(bytes);
        using var runner = OnnxRunner.Load(path, options);
        var latency = new List<LatencyRow>();
        foreach (var b in batches)
        {
            try
            {
                latency.Add(new LatencyRow(b, runner.Benchmark(b, warmup: 10, runs: 40).P50Ms));
            }
            catch (OptionsException e)
            {
                notes.Add($"latency not measured: {e.Message}");
                break;
            }
        }
        double? accuracy = test is null ? null : runner.Evaluate(test, 256).Accuracy;
        return (new ModelSide(stats.BytesOnDisk, compressed.Length, stats.PackedBytes, stats.Parameters, stats.NonZero, stats.Sparsity, stats.Macs, latency, accuracy), stats);
    }

    /// <summary>Faster when the p50 latency is at least 10 % lower at every measured batch size.</summary>
    public static bool Faster(ModelSide before, ModelSide after) =>
        before.Latency.Count > 0 && before.Latency.Zip(after.Latency).All(p => p.Second.P50Ms < p.First.P50Ms * 0.9);

    /// <summary>Latency ratio (before / after) per measured batch size.</summary>
    public static IReadOnlyList<double> Speedups(ModelSide before, ModelSide after) =>
        before.Latency.Zip(after.Latency).Select(p => p.First.P50Ms / p.Second.P50Ms).ToList();

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
