using Spectre.Console;
using Shrink.Stats;

namespace Shrink.Cli.Reports;

/// <summary>What <c>shrink prune</c> prints: the before/after sides, the notes and the verdict on speed.</summary>
internal sealed record PruneReport(string Model, string Out, string Method, double TargetSparsity, string Scope, int Rounds, int FinetuneEpochs,
    ModelSide Before, ModelSide After, IReadOnlyList<string> Notes, IReadOnlyList<LayerStats> Layers, bool Structural)
{
    /// <summary>
    /// Structured pruning: faster when the interleaved comparison finds it faster (interquartile ranges apart) at every batch
    /// size. Unstructured pruning keeps every shape, so ONNX Runtime runs the same dense kernels: it is
    /// never claimed faster, whatever run-to-run noise the latency rows show.
    /// </summary>
    public bool Faster => Structural && ModelSide.Faster(Before, After);

    /// <summary>Latency ratio (before / after) per measured batch size.</summary>
    public IReadOnlyList<double> Speedups => ModelSide.Speedups(Before, After);

    public string FasterNote => Structural
        ? Faster
            ? $"faster in ONNX Runtime: {ModelSide.Verdicts(After)} (p50 of interleaved runs; interquartile ranges apart)"
            : Before.Latency.Count == 0
                ? "latency not measured (--bench-batch none)"
                : $"not faster in ONNX Runtime at every batch size by the measure of this run: {ModelSide.Verdicts(After)} (p50 of interleaved runs)"
        : "not faster: unstructured sparsity keeps every layer's shape, and ONNX Runtime runs the same dense kernels; the zeros pay off in compressed size (gzip above) and later in Deep Compression, not in latency";

    public void Render(IAnsiConsole c)
    {
        c.Write(ModelSide.Table(Before, After));
        foreach (var note in Notes) c.WriteLine($"note: {note}");
        c.WriteLine(Structural
            ? $"wrote {Out}: {Method} pruning removed channels: {Before.Parameters:N0} → {After.Parameters:N0} parameters, {Format.Macs(Before.Macs, true)} → {Format.Macs(After.Macs, true)} MACs per sample ({1 - (double)After.Macs / Before.Macs:P1} fewer)"
            : $"wrote {Out}: {Method} pruning, {After.Sparsity:P1} of the parameters are zero");
        c.WriteLine(FasterNote);
    }
}
