using Spectre.Console;
using Shrink.Evaluation;
using Shrink.Stats;

namespace Shrink.Cli.Reports;

/// <summary>What <c>shrink prune</c> prints: the before/after sides, the notes and the verdict on speed.</summary>
internal sealed record PruneReport(string Model, string Out, string Method, double TargetSparsity, string Scope, int Rounds, int FinetuneEpochs,
    ModelMeasurement Before, ModelMeasurement After, IReadOnlyList<string> Notes, IReadOnlyList<LayerStats> Layers, bool Structural)
{
    private const string SameKernels = "unstructured sparsity keeps every layer's shape, and ONNX Runtime runs the same dense kernels";

    /// <summary>
    /// Faster when the interleaved comparison finds it faster (interquartile ranges apart) at every batch size: one rule
    /// for structured and unstructured pruning, so that the words agree with the latency rows. (Unstructured pruning keeps
    /// every shape and runs the same dense kernels, which the note says beside whatever this run measured.)
    /// </summary>
    public bool Faster => Comparison.Of(Before, After).Faster;

    /// <summary>Latency ratio (before / after) per measured batch size.</summary>
    public IReadOnlyList<double> Speedups => Comparison.Of(Before, After).Speedups;

    public string FasterNote
    {
        get
        {
            var c = Comparison.Of(Before, After);
            if (!c.LatencyMeasured)
                return Structural ? "latency not measured (--bench-batch none)"
                    : $"not faster: {SameKernels}; the zeros pay off in compressed size (gzip above) and later in Deep Compression, not in latency";
            if (Structural) return ComparisonTable.Verdict(c);
            return c.FasterSomewhere
                ? $"{c.Verdicts} by the measure of this run (p50 of interleaved runs), although {SameKernels}: a difference the zeros cannot make; they pay off in compressed size (gzip above) and later in Deep Compression"
                : $"not faster: {SameKernels} ({c.Verdicts}, p50 of interleaved runs); the zeros pay off in compressed size (gzip above) and later in Deep Compression, not in latency";
        }
    }

    public void Render(IAnsiConsole c)
    {
        c.Write(ComparisonTable.Of(Before, After));
        foreach (var note in Notes) c.WriteLine($"note: {note}");
        c.WriteLine(Structural
            ? $"wrote {Out}: {Method} pruning removed channels: {Before.Parameters:N0} → {After.Parameters:N0} parameters, {Format.Macs(Before.Macs, Before.MacsComplete)} → {Format.Macs(After.Macs, After.MacsComplete)} MACs per sample{(Before.Macs > 0 && Before.MacsComplete && After.MacsComplete ? $" ({1 - (double)After.Macs / Before.Macs:P1} fewer)" : Before.MacsComplete ? "" : " (give the symbolic axes sizes with --dim NAME=SIZE to count them)")}"
            : $"wrote {Out}: {Method} pruning, {After.Sparsity:P1} of the parameters are zero");
        c.WriteLine(FasterNote);
    }
}
