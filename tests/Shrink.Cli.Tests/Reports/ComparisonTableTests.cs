using Shrink.Cli;
using Shrink.Cli.Commands;
using Shrink.Cli.Reports;
using Shrink.Evaluation;
using Shrink.Runtime;
using Spectre.Console;
using Xunit;

namespace Shrink.Cli.Tests.Reports;

/// <summary>
/// What every compression command prints about latency: the table's p50 and interquartile range per batch size come
/// from the same runs as the verdict, and the verdict's words agree with it (prune, structured or not, quantize,
/// factorize, bench --vs).
/// </summary>
public class ComparisonTableTests
{
    private static readonly LatencyQuartiles Slow = new(13.0, 13.27, 13.5, 50), Fast = new(8.3, 8.51, 8.7, 50), Noisy = new(8.0, 8.51, 13.4, 50);

    private static (ModelMeasurement Before, ModelMeasurement After) Pair(params (int Batch, LatencyQuartiles Before, LatencyQuartiles After)[] rows)
    {
        var side = new ModelMeasurement(1000, 900, 800, 200, 100, 0.5, 5000, Array.Empty<LatencyRow>(), null);
        var comparison = rows.Select(r => new LatencyComparisonRow(r.Batch, r.Before, r.After, LatencyComparison.Decide(r.Before, r.After))).ToList();
        return (side with { Latency = rows.Select(r => LatencyRow.From(r.Batch, r.Before)).ToList() },
            side with { Latency = rows.Select(r => LatencyRow.From(r.Batch, r.After)).ToList(), Comparison = comparison });
    }

    private static string Render(Table table)
    {
        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(text), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 200;
        console.Write(table);
        return text.ToString();
    }

    [Fact]
    public void TheTableShowsTheMedianAndTheInterquartileRangeTheVerdictCompares()
    {
        var (before, after) = Pair((1, Slow, Fast));
        var text = Render(ComparisonTable.Of(before, after));
        Assert.Contains("p50 latency (interquartile range), batch 1", text);
        Assert.Contains("13.27 ms (13.00–13.50)", text);
        Assert.Contains("8.510 ms (8.300–8.700)", text);
    }

    [Fact]
    public void StructuredPruning_SaysFasterOnlyWhenEveryBatchSizeIsFaster()
    {
        var (before, after) = Pair((1, Slow, Fast), (256, Slow, Fast));
        var faster = Prune(before, after, structural: true);
        Assert.True(faster.Faster);
        Assert.StartsWith("faster in ONNX Runtime: 1.56x faster at batch 1, 1.56x faster at batch 256", faster.FasterNote);

        (before, after) = Pair((1, Slow, Fast), (256, Slow, Noisy));
        var mixed = Prune(before, after, structural: true);
        Assert.False(mixed.Faster);
        Assert.StartsWith("not faster in ONNX Runtime at every batch size by the measure of this run: 1.56x faster at batch 1, NOT faster: within noise (1.56x", mixed.FasterNote);
    }

    [Fact]
    public void UnstructuredPruning_NeverContradictsTheNumbers()
    {
        // 13.27 → 8.51 ms with the ranges apart: the rule says faster, and so do the words (with why it cannot be the zeros).
        var (before, after) = Pair((1, Slow, Fast));
        var apart = Prune(before, after, structural: false);
        Assert.True(apart.Faster);
        Assert.StartsWith("1.56x faster at batch 1 by the measure of this run", apart.FasterNote);
        Assert.DoesNotContain("not faster", apart.FasterNote);

        // The same medians with overlapping ranges: within noise, not faster.
        (before, after) = Pair((1, Slow, Noisy));
        var overlapping = Prune(before, after, structural: false);
        Assert.False(overlapping.Faster);
        Assert.StartsWith("not faster: unstructured sparsity keeps every layer's shape", overlapping.FasterNote);
        Assert.Contains("NOT faster: within noise (1.56x, interquartile ranges overlap) at batch 1", overlapping.FasterNote);

        (before, after) = Pair();
        Assert.StartsWith("not faster: unstructured sparsity", Prune(before, after, structural: false).FasterNote);
        Assert.Equal("latency not measured (--bench-batch none)", Prune(before, after, structural: true).FasterNote);
    }

    [Fact]
    public void Quantization_SaysFasterOrSlowerAsTheRuleDoes()
    {
        var (before, after) = Pair((1, Slow, Fast));
        Assert.StartsWith("faster in ONNX Runtime: 1.56x faster at batch 1", Quantize(before, after).FasterNote);

        (before, after) = Pair((1, Fast, Slow));
        var slower = Quantize(before, after);
        Assert.False(slower.Faster);
        Assert.StartsWith("NOT faster in ONNX Runtime at every batch size by the measure of this run: NOT faster: 1.56x slower at batch 1", slower.FasterNote);
        Assert.EndsWith("the Q/DQ steps cost more than the integer kernels save", slower.FasterNote);

        (before, after) = Pair();
        Assert.Equal("latency not measured", Quantize(before, after).FasterNote);
    }

    [Fact]
    public void Factorization_PrintsTheVerdictOfEachBatchSize()
    {
        var (before, after) = Pair((1, Slow, Noisy), (256, Slow, Fast));
        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(text), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 400;
        new FactorizeReport("m.onnx", "f.onnx", 0.9, null, 0, Array.Empty<FactorizedLayer>(), before, after, Array.Empty<string>()).Render(console);
        Assert.Contains("in ONNX Runtime NOT faster: within noise (1.56x, interquartile ranges overlap) at batch 1, 1.56x faster at batch 256 (p50 of interleaved runs)", text.ToString());
    }

    private static PruneReport Prune(ModelMeasurement before, ModelMeasurement after, bool structural) =>
        new("m.onnx", "p.onnx", structural ? "l1-filter" : "magnitude", 0.5, "layer", 1, 0, before, after, Array.Empty<string>(), Array.Empty<Shrink.Stats.LayerStats>(), structural);

    private static QuantizeReport Quantize(ModelMeasurement before, ModelMeasurement after) =>
        new("m.onnx", "q.onnx", "static", "int8", "uint8", false, "minmax", 64, new Dictionary<string, long>(), before, after, Array.Empty<string>());
}
