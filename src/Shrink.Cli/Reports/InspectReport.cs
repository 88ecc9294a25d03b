using Shrink.Ir;
using Shrink.Stats;
using Spectre.Console;

namespace Shrink.Cli.Reports;

/// <summary>The inspect report, as printed and as JSON.</summary>
internal sealed record InspectReport(
    string File, long IrVersion, IReadOnlyDictionary<string, long> Opsets, string? Producer,
    IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs, IReadOnlyList<string> Problems,
    SummaryStats? Summary, IReadOnlyDictionary<string, int>? OpCounts, IReadOnlyList<InspectLayer>? Layers)
{
    public static InspectReport From(string path, Model m, ModelStats? s, IReadOnlyList<string> problems) => new(
        path, m.IrVersion, m.OpsetImports.GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Last().Value),
        m.ProducerName is null ? null : $"{m.ProducerName} {m.ProducerVersion}".Trim(),
        m.Graph.Inputs.Where(v => !v.IsInitializer).Select(v => v.ToString()).ToArray(),
        m.Graph.Outputs.Select(v => v.ToString()).ToArray(), problems,
        s is null ? null : new SummaryStats(s.Parameters, s.UncountedParameters == 0 ? s.NonZero : null, s.UncountedParameters == 0 ? s.Sparsity : null,
            s.UncountedParameters, s.BytesOnDisk, s.Macs, s.MacsComplete, s.Nodes),
        s?.OpCounts, s?.Layers.Select(InspectLayer.Of).ToList());

    /// <summary>The report as text: the header lines, then the per-layer table (aligned plain text past <see cref="PlainRows"/> rows).</summary>
    public void Render(IAnsiConsole c)
    {
        c.WriteLine($"{File}  (IR {IrVersion}, opsets {string.Join(", ", Opsets.Select(kv => $"{(kv.Key == "" ? "ai.onnx" : kv.Key)}:{kv.Value}"))}, producer {Producer ?? "?"})");
        foreach (var i in Inputs) c.WriteLine($"  input   {i}");
        foreach (var o in Outputs) c.WriteLine($"  output  {o}");
        foreach (var p in Problems) c.WriteLine($"  problem {p}");
        if (Summary is not { } s) return;
        var zeros = s.NonZero is { } nz ? $"non-zero {nz:N0} (sparsity {s.Sparsity:P1})" : "non-zero not counted";
        c.WriteLine($"  parameters {s.Parameters:N0}, {zeros}, {Format.Bytes(s.BytesOnDisk)} on disk, {Format.Macs(s.Macs, s.MacsComplete)} MACs per sample, {s.Nodes} nodes");
        c.WriteLine($"  ops: {string.Join(", ", OpCounts!.Select(kv => $"{kv.Key}×{kv.Value}"))}");
        if (s.Uncounted > 0)
            c.WriteLine($"  {s.Uncounted:N0} parameters in external data were not read: zeros not counted (--count-nonzero counts them)");
        var rows = Layers!.Select(l => new[] { l.Name, l.OpType, l.OutputShape, l.Parameters.ToString("N0"), l.NonZero?.ToString("N0") ?? "-", l.Sparsity?.ToString("P1") ?? "-", l.Macs?.ToString("N0") ?? "-" })
            .Append(new[] { "total", "", "", s.Parameters.ToString("N0"), s.NonZero?.ToString("N0") ?? "-", s.Sparsity?.ToString("P1") ?? "-", Format.Macs(s.Macs, s.MacsComplete) }).ToList();
        if (rows.Count > PlainRows)
        {
            WritePlain(c, rows);
            return;
        }
        var table = new Table().AddColumns(Columns);
        foreach (var row in rows) table.AddRow(row.Select(Markup.Escape).ToArray());
        c.Write(table);
    }

    private static readonly string[] Columns = { "layer", "op", "output", "params", "non-zero", "sparsity", "MACs" };

    /// <summary>Past this many rows the table is written as aligned plain text: laying out a bordered table costs time that grows with the rows (0.5 s at 700 layers).</summary>
    private const int PlainRows = 200;

    /// <summary>The table as aligned columns, text left and numbers right, one line per row.</summary>
    private static void WritePlain(IAnsiConsole c, List<string[]> rows)
    {
        var widths = Columns.Select((h, i) => rows.Max(r => r[i].Length) is var w && w > h.Length ? w : h.Length).ToArray();
        string Line(string[] cells) => string.Join("  ", cells.Select((x, i) => i < 3 ? x.PadRight(widths[i]) : x.PadLeft(widths[i]))).TrimEnd();
        var text = new System.Text.StringBuilder();
        text.AppendLine(Line(Columns)).AppendLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in rows) text.AppendLine(Line(row));
        c.Profile.Out.Writer.Write(text.ToString());
    }
}

/// <summary>Model totals; non-zero and sparsity are null when weights in external data were left uncounted.</summary>
internal sealed record SummaryStats(long Parameters, long? NonZero, double? Sparsity, long Uncounted, long BytesOnDisk, long Macs, bool MacsComplete, int Nodes);

/// <summary>A row of the per-layer table; non-zero and sparsity are null when the layer's weights were not read.</summary>
internal sealed record InspectLayer(string Name, string OpType, string OutputShape, long Parameters, long? NonZero, double? Sparsity, long? Macs)
{
    public static InspectLayer Of(LayerStats l) => new(l.Name, l.OpType, l.OutputShape, l.Parameters,
        l.NonZeroCounted ? l.NonZero : null, l.NonZeroCounted ? l.Sparsity : null, l.Macs);
}
