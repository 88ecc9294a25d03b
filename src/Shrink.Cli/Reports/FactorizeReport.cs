using Spectre.Console;
using Shrink.Evaluation;
using Shrink.Passes.Factorization;

namespace Shrink.Cli.Reports;

internal sealed record FactorizedLayer(string Layer, int Rank, int FullRank)
{
    public static FactorizedLayer From(KeyValuePair<string, LayerRank> r) => new(r.Key, r.Value.Rank, r.Value.FullRank);
}

/// <summary>What <c>shrink factorize</c> prints: the before/after table, the rank kept per layer, the notes and the latency verdict.</summary>
internal sealed record FactorizeReport(string Model, string Out, double? Energy, double? Ratio, int FinetuneEpochs, IReadOnlyList<FactorizedLayer> Layers,
    ModelMeasurement Before, ModelMeasurement After, IReadOnlyList<string> Notes)
{
    public void Render(IAnsiConsole c)
    {
        c.Write(ComparisonTable.Of(Before, After));
        var t = new Table().AddColumns("layer", "rank kept", "full rank");
        foreach (var l in Layers) t.AddRow(Markup.Escape(l.Layer), l.Rank.ToString(), l.FullRank.ToString());
        c.Write(t);
        foreach (var note in Notes) c.WriteLine($"note: {note}");
        var comparison = Comparison.Of(Before, After);
        c.WriteLine($"wrote {Out}: {Layers.Count} layers factorized; parameters {Before.Parameters:N0} → {After.Parameters:N0}" +
            (comparison.LatencyMeasured ? $"; in ONNX Runtime {comparison.Verdicts} (p50 of interleaved runs)" : ""));
    }
}
