using Spectre.Console;
using Shrink.Evaluation;
using Shrink.Passes.Merging;

namespace Shrink.Cli.Reports;

/// <summary>What <c>shrink merge</c> prints: every merge with its parameters, the before/after table (fidelity and latency), the notes and the verdict.</summary>
internal sealed record MergeReport(string Model, string Out, IReadOnlyList<MergeKind> Kinds, IReadOnlyList<LayerMerge> Merges, string? ParallelLatency,
    ModelMeasurement Before, ModelMeasurement After, IReadOnlyList<string> Notes)
{
    public void Render(IAnsiConsole c)
    {
        if (Merges.Count > 0)
        {
            var t = new Table().AddColumns("kind", "merged", "into", "parameters before", "after");
            foreach (var m in Merges)
                t.AddRow(m.Kind.ToString().ToLowerInvariant(), Markup.Escape(string.Join(" + ", m.Layers)), Markup.Escape(m.Into), m.ParametersBefore.ToString("N0"), m.ParametersAfter.ToString("N0"));
            c.Write(t);
        }
        c.Write(ComparisonTable.Of(Before, After));
        foreach (var note in Notes) c.WriteLine($"note: {note}");
        if (ParallelLatency is not null && Merges.Any(m => m.Kind == MergeKind.Parallel)) c.WriteLine($"parallel merges, measured in ONNX Runtime: {ParallelLatency}");
        var counts = Kinds.Select(k => $"{Merges.Count(m => m.Kind == k)} {k.ToString().ToLowerInvariant()}");
        var comparison = Comparison.Of(Before, After);
        c.WriteLine($"wrote {Out}: merges {string.Join(", ", counts)}; parameters {Before.Parameters:N0} → {After.Parameters:N0} ({After.Parameters - Before.Parameters:+#,0;-#,0;0}); " +
            $"nodes {Before.Stats?.Nodes.ToString() ?? "?"} → {After.Stats?.Nodes.ToString() ?? "?"}" +
            (comparison.LatencyMeasured ? $"; in ONNX Runtime {comparison.Verdicts} (p50 of interleaved runs)" : ""));
    }
}
