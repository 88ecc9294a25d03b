using Spectre.Console;
using Shrink.Evaluation;
using Shrink.Passes.Sharing;

namespace Shrink.Cli.Reports;

internal sealed record ClusterLayer(string Weight, int Bits, int SharedValues, long NonZero, long Elements)
{
    /// <summary>The rows of a clustered model: each weight's codebook, and its non-zeros and elements.</summary>
    public static IReadOnlyList<ClusterLayer> Of(Shrink.Ir.Model model, Codebooks codebooks) => codebooks.Weights.Select(kv =>
    {
        var t = model.Graph.FindInitializer(kv.Key)!.Const!;  // counted in chunks: a weight written to external data stays there
        return new ClusterLayer(kv.Key, kv.Value.Bits, kv.Value.Centroids.Length, Shrink.Stats.ModelStats.CountNonZero(t), t.ElementCount);
    }).ToList();
}

/// <summary>What <c>shrink cluster</c> prints: the before/after table, the codebook of each clustered weight, the notes.</summary>
internal sealed record ClusterReport(string Model, string Out, int FinetuneEpochs, ModelMeasurement Before, ModelMeasurement After, IReadOnlyList<ClusterLayer> Layers,
    IReadOnlyList<string> Notes)
{
    public void Render(IAnsiConsole c)
    {
        c.Write(ComparisonTable.Of(Before, After));
        var t = new Table().AddColumns("weight", "bits", "shared values", "non-zero", "elements");
        foreach (var l in Layers) t.AddRow(Markup.Escape(l.Weight), l.Bits.ToString(), l.SharedValues.ToString(), l.NonZero.ToString("N0"), l.Elements.ToString("N0"));
        c.Write(t);
        foreach (var note in Notes) c.WriteLine($"note: {note}");
        c.WriteLine($"wrote {Out}: {Layers.Count} layers clustered (still float ONNX; shrink pack stores the indices and codebooks)");
    }
}
