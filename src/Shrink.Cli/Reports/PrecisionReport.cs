using Spectre.Console;
using Shrink.Evaluation;
using Shrink.Passes.Precision;

namespace Shrink.Cli.Reports;

/// <summary>What <c>shrink convert --precision</c> prints: the before/after table with the fidelity to the float model, the notes and the verdict.</summary>
internal sealed record PrecisionReport(string Model, string Out, PrecisionOptions Options, ModelMeasurement Before, ModelMeasurement After, IReadOnlyList<string> Notes)
{
    public void Render(IAnsiConsole c)
    {
        c.Write(ComparisonTable.Of(Before, After));
        foreach (var note in Notes) c.WriteLine($"note: {note}");
        var comparison = Comparison.Of(Before, After);
        var format = Options.Format == HalfFormat.Float16 ? "float16" : "bfloat16";
        c.WriteLine($"wrote {Out}: weights in {format}, computing in {(Options.Compute ? $"{format} where ONNX Runtime's CPU provider can" : "float32")}; " +
            $"parameters {Format.Bytes(Before.PackedBytes)} → {Format.Bytes(After.PackedBytes)}, file {Format.Bytes(Before.Bytes)} → {Format.Bytes(After.Bytes)}" +
            (comparison.LatencyMeasured ? $"; in ONNX Runtime {comparison.Verdicts} (p50 of interleaved runs)" : ""));
    }
}
