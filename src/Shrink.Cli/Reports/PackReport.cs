using Spectre.Console;
using Shrink.Container;

namespace Shrink.Cli.Reports;

internal sealed record PackLayer(string Weight, long Elements, long NonZero, double Density, int IndexBits, int ClusterBits, double BitsPerWeight);

/// <summary>What <c>shrink pack</c> prints: the size at each Deep Compression stage against the float file, per weight, and the restored model's accuracy.</summary>
internal sealed record PackReport(string Model, string Out, long ReferenceBytes, long PrunedBytes, long ClusteredBytes, long ContainerBytes, long GraphBytes,
    IReadOnlyList<PackLayer> Layers, double? Accuracy)
{
    /// <summary>The data the restored model was measured on, or null.</summary>
    public string? Data { get; init; }

    /// <summary>The restored model's fidelity to the packed one (exact: SQNR ∞), measured on <see cref="FidelityData"/>.</summary>
    public IReadOnlyList<Shrink.Evaluation.OutputFidelity>? Fidelity { get; init; }

    /// <summary>What <see cref="Fidelity"/> was measured on: the data, or seeded random inputs.</summary>
    public string? FidelityData { get; init; }

    public static PackReport From(string model, string output, long referenceBytes, PackResult result, double? accuracy) =>
        new(model, output, referenceBytes, result.PrunedBytes, result.ClusteredBytes, result.Bytes.Length, result.GraphBytes,
            result.Tensors.Select(t => new PackLayer(t.Name, t.Elements, t.NonZero, (double)t.NonZero / t.Elements, t.IndexBits, t.ValueBits, t.BitsPerWeight)).ToList(),
            accuracy);

    public void Render(IAnsiConsole c)
    {
        var stages = new Table().AddColumns("stage", "bytes", "smaller than the float ONNX file");
        stages.AddRow("float ONNX", ReferenceBytes.ToString("N0"), "1.0x");
        stages.AddRow("pruned (relative indices, float values)", PrunedBytes.ToString("N0"), $"{(double)ReferenceBytes / PrunedBytes:F1}x");
        stages.AddRow("+ clustered (indices, codebooks)", ClusteredBytes.ToString("N0"), $"{(double)ReferenceBytes / ClusteredBytes:F1}x");
        stages.AddRow("+ Huffman coded (the .shrink file)", ContainerBytes.ToString("N0"), $"{(double)ReferenceBytes / ContainerBytes:F1}x");
        c.Write(stages);
        var layers = new Table().AddColumns("weight", "elements", "non-zero", "index bits", "cluster bits", "bits per non-zero weight (coded)");
        foreach (var l in Layers)
            layers.AddRow(Markup.Escape(l.Weight), l.Elements.ToString("N0"), $"{l.NonZero:N0} ({l.Density:P1})", l.IndexBits.ToString(), l.ClusterBits.ToString(), l.BitsPerWeight.ToString("F2"));
        c.Write(layers);
        if (Accuracy is { } a) c.WriteLine($"accuracy of the unpacked model (ONNX Runtime): {a:P2} on {Data}");
        foreach (var f in Fidelity ?? Array.Empty<Shrink.Evaluation.OutputFidelity>()) c.WriteLine($"fidelity of the unpacked model to MODEL on {FidelityData ?? Data}: {f}");
        c.WriteLine($"wrote {Out}: {ContainerBytes:N0} bytes ({GraphBytes:N0} of them the graph and unclustered tensors, compressed), {(double)ReferenceBytes / ContainerBytes:F1}x smaller than the float ONNX file");
    }
}
