using Spectre.Console;
using Shrink.Evaluation;

namespace Shrink.Cli.Reports;

/// <summary>The before/after table every compression command prints, and its latency verdict in words.</summary>
internal static class ComparisonTable
{
    /// <summary>
    /// The common rows: sizes, parameters, non-zeros, sparsity, MACs, the data measured on, on labelled data accuracy,
    /// top-5 and loss when both sides have them, the "after" side's fidelity to the "before" one per output (and what it
    /// was measured on when that is not the data: the calibration set, random inputs), and per batch size the p50 latency with its interquartile range — the numbers the verdict rule compares.
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
        table.AddRow("MACs per sample", Format.Macs(before.Macs, before.MacsComplete), Format.Macs(after.Macs, after.MacsComplete));
        if (after.Data is { } data) table.AddRow("data", Markup.Escape(before.Data ?? data), Markup.Escape(data));
        if (before.Accuracy is { } a0 && after.Accuracy is { } a1) table.AddRow("accuracy (ONNX Runtime)", a0.ToString("P2"), a1.ToString("P2"));
        if (before.Top5 is { } t0 && after.Top5 is { } t1) table.AddRow("top-5 accuracy", t0.ToString("P2"), t1.ToString("P2"));
        if (before.Loss is { } loss0 && after.Loss is { } loss1) table.AddRow("loss (cross-entropy)", loss0.ToString("F4"), loss1.ToString("F4"));
        if (after.FidelityData is { } on && on != after.Data) table.AddRow("fidelity measured on", "", Markup.Escape(on));
        foreach (var f in after.Fidelity ?? Array.Empty<OutputFidelity>()) AddFidelity(table, f);
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

    /// <summary>The rows of one output's fidelity to the original (the "before" side is the reference).</summary>
    private static void AddFidelity(Table table, OutputFidelity f)
    {
        var name = Markup.Escape(f.Output);
        if (f.Top1Agreement is { } agreement) table.AddRow($"{name}: top-1 agreement with before", "(reference)", agreement.ToString("P2"));
        table.AddRow($"{name}: cosine similarity to before", "(reference)", f.Cosine.ToString("F5"));
        table.AddRow($"{name}: SQNR against before", "(reference)", Fidelity.Decibels(f.SqnrDb));
        table.AddRow($"{name}: max |error| against before", "(reference)", f.MaxAbsError.ToString("G4"));
    }

    private static string Latency(LatencyRow l) => $"{Format.Ms(l.P50Ms)} ms ({Format.Ms(l.Q1Ms)}–{Format.Ms(l.Q3Ms)})";
}
