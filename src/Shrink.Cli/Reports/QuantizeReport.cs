using Spectre.Console;
using Shrink.Evaluation;
using Shrink.Runtime;

namespace Shrink.Cli.Reports;

/// <summary>What <c>shrink quantize</c> prints (a table and lines) or writes as JSON.</summary>
internal sealed record QuantizeReport(string Model, string Out, string Mode, string Weights, string Activations, bool PerChannel, string Calibration,
    int CalibrationSamples, IReadOnlyDictionary<string, long> Stats, ModelMeasurement Before, ModelMeasurement After, IReadOnlyList<string> Notes)
{
    public bool Faster => Comparison.Of(Before, After).Faster;

    /// <summary>Block-wise scales: weights per block along the reduction axis (0: per channel or per tensor).</summary>
    public int BlockSize { get; init; }

    /// <summary>
    /// How the weights are scaled: block-wise with a block size; per channel or per tensor otherwise — except where every
    /// layer went to MatMulNBits, whose kernels take one scale per block (its default size) whatever was asked.
    /// </summary>
    public string Granularity => BlockSize > 0 ? $"block-wise, {BlockSize} per scale"
        : NBitsLayers > 0 && NBitsLayers == Stats.GetValueOrDefault("quantize-static.layers") ? $"block-wise, {new Passes.Quantization.MatMulNBitsOptions().BlockSize} per scale"
        : PerChannel ? "per channel" : "per tensor";

    private long NBitsLayers => Stats.GetValueOrDefault("quantize-static.matmul-nbits");

    /// <summary>", N of them as MatMulNBits (B per scale)" when weight-only quantization wrote MatMulNBits nodes, else empty.</summary>
    private string NBits => NBitsLayers is var n and > 0
        ? n == Stats.GetValueOrDefault("quantize-static.layers") ? ", all as MatMulNBits"
        : $", {n} of them as MatMulNBits ({(BlockSize > 0 ? BlockSize : new Passes.Quantization.MatMulNBitsOptions().BlockSize)} per scale)" : "";

    /// <summary>" and N embedding tables (Gather)" where dynamic quantization quantized them, else empty.</summary>
    private string Tables => Stats.GetValueOrDefault("quantize-dynamic.tables") is var n and > 0 ? $" and {n} embedding table{(n == 1 ? "" : "s")} (Gather)"
        : Stats.GetValueOrDefault("gather-nbits.tables") is var g and > 0 ? $" and {g} embedding table{(g == 1 ? "" : "s")} as GatherBlockQuantized" : "";

    /// <summary>QAT: the training executor's test accuracy at the end (quantized weights, fake-quantized activations).</summary>
    public double? ExecutorAccuracy { get; init; }

    /// <summary>--min-fidelity: the output cosine before and after the fallback (on the calibration samples it chose on and on those it held out), what it kept in float and each unit's sensitivity.</summary>
    public Passes.Quantization.QuantizationFallbackReport? Fallback { get; init; }

    public IReadOnlyList<double> Speedups => Comparison.Of(Before, After).Speedups;

    public string FasterNote => Before.Latency.Count == 0 || After.Latency.Count == 0
        ? "latency not measured"
        : Faster
            ? $"faster in ONNX Runtime: {Comparison.Of(Before, After).Verdicts} (p50 of interleaved runs; interquartile ranges apart)"
            : $"NOT faster in ONNX Runtime at every batch size by the measure of this run: {Comparison.Of(Before, After).Verdicts} (p50 of interleaved runs)" +
              (After.Comparison?.Any(r => r.Verdict == LatencyVerdict.Slower) == true ? "; where slower, the Q/DQ steps cost more than the integer kernels save" : "");

    /// <summary>The before/after table, the notes and the summary lines.</summary>
    public void Render(IAnsiConsole c)
    {
        c.Write(ComparisonTable.Of(Before, After));
        foreach (var note in Notes) c.WriteLine($"note: {note}");
        var layers = Stats.GetValueOrDefault($"quantize-{(Mode == "dynamic" ? "dynamic" : "static")}.layers");
        if (ExecutorAccuracy is { } ea && After.Accuracy is { } oa)
            c.WriteLine($"quantization-aware training: executor (quantized weights, fake-quantized activations) {ea:P2}, ONNX Runtime on the quantized model {oa:P2} ({(oa - ea) * 100:+0.00;-0.00} points)");
        var ratio = (double)Before.Bytes / After.Bytes;
        var size = ratio >= 1 ? $"file {ratio:F2}x smaller" : $"file {1 / ratio:F2}x LARGER (scales, zero points and Q/DQ nodes outweigh the int8 weights of so small a model)";
        var convs = Stats.GetValueOrDefault("quantize-dynamic.conv-layers");
        var activationMatMuls = Stats.GetValueOrDefault("quantize-static.activation-matmuls");
        c.WriteLine(Mode == "dynamic"
            ? $"wrote {Out}: {Weights} weights ({Granularity}) in {(convs == 0 ? $"{layers} MatMul/Gemm layers" : $"{layers} layers ({convs} Conv as ConvInteger, {layers - convs} MatMul/Gemm)")}{Tables}, activations quantized at run time; {size}"
            : Activations == "float"
                ? $"wrote {Out}: {Weights} weights ({Granularity}) in {layers} layers{NBits}{Tables}, activations and biases kept float (weight-only); {size}"
                : $"wrote {Out}: {Weights} weights ({Granularity}), {Activations} activations calibrated by {Calibration} on {CalibrationSamples} samples; " +
                  $"{layers} layers{(activationMatMuls > 0 ? $" and {activationMatMuls} MatMuls of two activations" : "")}, {Stats.GetValueOrDefault("quantize-static.tensors")} activation tensors; {size}");
        c.WriteLine(FasterNote);
    }
}
