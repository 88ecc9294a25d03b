using System.Text.Json.Serialization;
using Shrink.Runtime;
using Shrink.Stats;

namespace Shrink.Evaluation;

/// <summary>ONNX Runtime latency of one model at one batch size: the median and the interquartile range of its runs, in milliseconds.</summary>
public sealed record LatencyRow(int Batch, double P50Ms, double Q1Ms, double Q3Ms, int Runs)
{
    public static LatencyRow From(int batch, LatencyQuartiles q) => new(batch, q.P50Ms, q.Q1Ms, q.Q3Ms, q.Runs);
}

/// <summary>
/// What Shrink measures of one model file: size on disk and gzip -9, parameter bytes at their packed width,
/// parameters, non-zeros, sparsity, MACs per sample, on a labelled test set top-1 and top-5 accuracy and loss in ONNX
/// Runtime, on the "after" side of a comparison the fidelity of each output to the original (on the test set, the
/// calibration set or seeded random inputs), and latency in ONNX Runtime (when batch sizes were given; see <see cref="ModelEvaluation.Compare"/>).
/// </summary>
public sealed record ModelMeasurement(long Bytes, long GzipBytes, long PackedBytes, long Parameters, long NonZero, double Sparsity, long Macs,
    IReadOnlyList<LatencyRow> Latency, double? Accuracy)
{
    /// <summary>The name of the data set measured on (<see cref="Data.IDataSource.Name"/>), or null when none was.</summary>
    public string? Data { get; init; }

    /// <summary>Top-5 accuracy (top-k, k the smaller of 5 and the classes) on the labelled test set, or null.</summary>
    public double? Top5 { get; init; }

    /// <summary>Mean cross-entropy of the first output on the labelled test set, or null.</summary>
    public double? Loss { get; init; }

    /// <summary>
    /// On the "after" side of a comparison: each output's fidelity to the "before" model (<see cref="OutputFidelity"/>),
    /// measured in ONNX Runtime on <see cref="FidelityData"/>; null on a single measurement or when it could not be measured.
    /// </summary>
    public IReadOnlyList<OutputFidelity>? Fidelity { get; init; }

    /// <summary>What <see cref="Fidelity"/> was measured on: the test data, a calibration set, or seeded random inputs (said so).</summary>
    public string? FidelityData { get; init; }

    /// <summary>One warning per output that collapsed against the "before" model (cosine under <see cref="Evaluation.Fidelity.CollapseCosine"/>); empty when none did.</summary>
    public IReadOnlyList<string> FidelityWarnings => Evaluation.Fidelity.Collapses(Fidelity);

    /// <summary>
    /// On the "after" side of a <see cref="Comparison"/>: the interleaved latency comparison with the "before" side,
    /// per batch size (the same rows as <see cref="Comparison.Latency"/>); null on a single measurement.
    /// </summary>
    public IReadOnlyList<LatencyComparisonRow>? Comparison { get; init; }

    /// <summary>The statistics the figures come from (per-layer table included); not part of the JSON form.</summary>
    [JsonIgnore]
    public ModelStats? Stats { get; init; }

    /// <summary>True when every MAC of the model was counted (no layer of unknown shape).</summary>
    [JsonIgnore]
    public bool MacsComplete => Stats?.MacsComplete ?? true;
}

/// <summary>
/// A model before and after a technique, measured together: both sides' figures and, per batch size, the
/// interleaved latency comparison and its verdict (<see cref="LatencyComparison"/>: faster or slower only when
/// the interquartile ranges are apart, else within noise). The p50 rows of both sides and the verdicts come from
/// the same runs, so the words always agree with the numbers printed beside them.
/// </summary>
public sealed record Comparison(ModelMeasurement Before, ModelMeasurement After, IReadOnlyList<LatencyComparisonRow> Latency, IReadOnlyList<string> Notes)
{
    /// <summary>The comparison a pair of measurements holds (the rows on the "after" side), e.g. read back from a report.</summary>
    public static Comparison Of(ModelMeasurement before, ModelMeasurement after) =>
        new(before, after, after.Comparison ?? Array.Empty<LatencyComparisonRow>(), Array.Empty<string>());

    /// <summary>True when latency was measured at one batch size at least.</summary>
    public bool LatencyMeasured => Latency.Count > 0;

    /// <summary>Faster when the comparison says so at every measured batch size (false when nothing was measured).</summary>
    public bool Faster => Latency.Count > 0 && Latency.All(r => r.Verdict == LatencyVerdict.Faster);

    /// <summary>True when the comparison found the "after" model faster at one batch size at least.</summary>
    public bool FasterSomewhere => Latency.Any(r => r.Verdict == LatencyVerdict.Faster);

    /// <summary>True when the comparison found the "after" model slower at one batch size at least.</summary>
    public bool SlowerSomewhere => Latency.Any(r => r.Verdict == LatencyVerdict.Slower);

    /// <summary>Latency ratio (before / after p50) per measured batch size.</summary>
    public IReadOnlyList<double> Speedups => Latency.Select(r => r.Speedup).ToList();

    /// <summary>The comparison in words, per batch size: "1.42x faster at batch 1, NOT faster: within noise (1.03x, …) at batch 256".</summary>
    public string Verdicts => string.Join(", ", Latency.Select(r => $"{r.Words} at batch {r.Batch}"));
}
