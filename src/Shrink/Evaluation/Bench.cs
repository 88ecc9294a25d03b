using Shrink.Runtime;
using Shrink.Stats;

namespace Shrink.Evaluation;

/// <summary>How <see cref="Bench"/> times models: batch sizes, untimed warm-up runs, timed runs per batch size, ONNX Runtime settings.</summary>
public sealed record BenchSettings
{
    public IReadOnlyList<int> Batches { get; init; } = new[] { 1, 256 };
    public int Warmup { get; init; } = 10;

    /// <summary>Timed runs per batch size (against another model: about this many, in interleaved rounds of 5).</summary>
    public int Runs { get; init; } = 50;

    public RunnerOptions Runner { get; init; } = new();

    public BenchSettings Validate()
    {
        if (Warmup < 0) throw OptionsException.For("Warmup", $"{Warmup} is out of range; use 0 or more");
        if (Runs < 1) throw OptionsException.For("Runs", $"{Runs} is out of range; use 1 or more");
        return this;
    }
}

/// <summary>Latency percentiles of one model at one batch size, with the file's size.</summary>
public sealed record BenchRow(string Model, long Bytes, int Batch, int Runs, double P50Ms, double P90Ms, double P99Ms, double MeanMs, double Throughput)
{
    public static BenchRow From(string model, long bytes, LatencyResult l) =>
        new(model, bytes, l.Batch, l.Runs, l.P50Ms, l.P90Ms, l.P99Ms, l.MeanMs, l.Throughput);
}

/// <summary>The rows of a bench (one model's rows, then the other's) and, against another model, the comparison per batch size.</summary>
public sealed record BenchResult(IReadOnlyList<BenchRow> Rows, IReadOnlyList<LatencyComparisonRow>? Comparison);

/// <summary>Where ONNX Runtime spends a model's time, per operator type (as run, after its fusions), at one batch size.</summary>
public sealed record ProfileRow(string Model, int Batch, IReadOnlyList<OpTime> Ops);

/// <summary>
/// ONNX Runtime latency of a model file, alone or against another. Against another, both models run in the same
/// interleaved rounds (<see cref="LatencyComparison"/>), and both the percentile rows and the verdict come from those
/// runs, so that the rows never contradict the verdict printed under them.
/// </summary>
public static class Bench
{
    /// <summary>
    /// Measures <paramref name="model"/> (and <paramref name="other"/>, the baseline of the comparison, when given) at each
    /// batch size; every batch size is checked against both models before the first is timed. With
    /// <paramref name="optimizedModelPath"/>, ONNX Runtime writes the graph it runs for <paramref name="model"/> there.
    /// </summary>
    public static BenchResult Run(string model, string? other, BenchSettings settings, string? optimizedModelPath = null)
    {
        settings.Validate();
        using var first = OnnxRunner.Load(model, optimizedModelPath is null ? settings.Runner : settings.Runner with { OptimizedModelPath = optimizedModelPath });
        using var second = other is null ? null : OnnxRunner.Load(other, settings.Runner);
        foreach (var runner in new[] { first, second }.OfType<OnnxRunner>())
            foreach (var b in settings.Batches) runner.CheckInputSizes(b);
        var size = ModelStats.SizeOnDisk(model);
        if (second is null)
            return new BenchResult(settings.Batches.Select(b => BenchRow.From(model, size, first.Benchmark(b, settings.Warmup, settings.Runs))).ToList(), null);
        var rows = LatencyComparison.Compare(second, first, settings.Batches, settings.Warmup, rounds: Math.Max(2, settings.Runs / 5), runsPerRound: 5);
        var otherSize = ModelStats.SizeOnDisk(other!);
        return new BenchResult(
            rows.Select(r => BenchRow.From(model, size, r.Candidate.ToResult(r.Batch)))
                .Concat(rows.Select(r => BenchRow.From(other!, otherSize, r.Baseline.ToResult(r.Batch)))).ToList(),
            rows);
    }

    /// <summary>Runs <paramref name="file"/> at one batch size in a profiling session and sums ONNX Runtime's kernel times per operator type.</summary>
    public static ProfileRow Profile(string file, BenchSettings settings, int batch)
    {
        if (batch < 1) throw OptionsException.For("Profile", $"{batch} is out of range; give a batch size of 1 or more");
        var prefix = Path.Combine(Path.GetTempPath(), $"shrink-profile-{Environment.ProcessId}");
        using var runner = OnnxRunner.Load(file, settings.Runner with { ProfilePrefix = prefix });
        runner.Benchmark(batch, settings.Warmup, settings.Runs);
        return new ProfileRow(file, batch, runner.EndProfiling(settings.Warmup + settings.Runs));
    }
}
