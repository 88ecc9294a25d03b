using Spectre.Console;
using Shrink.Evaluation;

namespace Shrink.Cli.Reports;

/// <summary>The before/after table every compression command prints, and its latency verdict in words.</summary>
internal static class ComparisonTable
{
    /// <summary>
    /// The common rows: sizes, parameters, non-zeros, sparsity, MACs, accuracy when both sides have it, and per batch
    /// size the p50 latency with its interquartile range — the numbers the verdict rule compares.
    /// </summary>
    public static Table Of(ModelMeasurement before, ModelMeasurement after)
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
            table.AddRow($"p50 latency (interquartile range), batch {l0.Batch}", Latency(l0), Latency(l1));
        return table;
    }

    /// <summary>
    /// The verdict of the interleaved comparison, in the words of <see cref="Runtime.LatencyComparisonRow.Words"/>:
    /// "faster" only when it is faster at every measured batch size.
    /// </summary>
    public static string Verdict(Comparison c) => c.Faster
        ? $"faster in ONNX Runtime: {c.Verdicts} (p50 of interleaved runs; interquartile ranges apart)"
        : $"not faster in ONNX Runtime at every batch size by the measure of this run: {c.Verdicts} (p50 of interleaved runs)";

    private static string Latency(LatencyRow l) => $"{Format.Ms(l.P50Ms)} ms ({Format.Ms(l.Q1Ms)}–{Format.Ms(l.Q3Ms)})";
}
