using Shrink.Data;
using Shrink.Runtime;

namespace Shrink.Evaluation;

/// <summary>A point estimate with its bootstrap confidence interval: <see cref="Low"/> ≤ <see cref="Estimate"/> ≤ <see cref="High"/> at <see cref="Level"/>.</summary>
public sealed record ConfidenceInterval(double Estimate, double Low, double High, double Level, int Resamples, int Samples)
{
    /// <summary>The interval in other units: every number times <paramref name="factor"/> (100: a fraction in points).</summary>
    public ConfidenceInterval Scaled(double factor) => this with { Estimate = Estimate * factor, Low = Low * factor, High = High * factor };

    /// <summary>"0.42 [0.10, 0.75]" with <paramref name="format"/> applied to each number (invariant culture).</summary>
    public string Format(string format = "F2") => $"{Estimate.ToString(format, Inv)} [{Low.ToString(format, Inv)}, {High.ToString(format, Inv)}]";

    private static System.Globalization.CultureInfo Inv => System.Globalization.CultureInfo.InvariantCulture;
}

/// <summary>
/// Percentile bootstrap (Efron and Tibshirani 1993, ch. 13) of per-sample scores: the samples are drawn with
/// replacement <c>resamples</c> times (seeded, so the interval is the same on every run), the statistic computed on
/// each draw, and the interval is the (1 − level)/2 and (1 + level)/2 quantiles of those statistics. Paired
/// (<see cref="Difference"/>): each draw takes the same samples from both sides, so the interval of an accuracy drop
/// reflects that both models saw the same images.
/// </summary>
public static class Bootstrap
{
    /// <summary>The mean of <paramref name="hits"/> (1 for a hit, 0 for a miss) with its interval.</summary>
    public static ConfidenceInterval Mean(IReadOnlyList<bool> hits, int resamples = 1000, int seed = 0, double level = 0.95)
    {
        var d = Difference(new bool[hits.Count], hits, resamples, seed, level);   // 0 − mean, so the interval is mirrored
        return d with { Estimate = -d.Estimate, Low = -d.High, High = -d.Low };
    }

    /// <summary>
    /// mean(<paramref name="baseline"/>) − mean(<paramref name="candidate"/>) (an accuracy drop as a fraction) with its paired
    /// interval; both list the same samples in the same order.
    /// </summary>
    public static ConfidenceInterval Difference(IReadOnlyList<bool> baseline, IReadOnlyList<bool> candidate, int resamples = 1000, int seed = 0, double level = 0.95)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(candidate);
        if (baseline.Count != candidate.Count) throw new ArgumentException($"{baseline.Count} baseline samples against {candidate.Count} candidate ones", nameof(candidate));
        if (baseline.Count == 0) throw new ArgumentException("no samples", nameof(baseline));
        if (resamples < 10) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "at least 10 resamples");
        if (!(level > 0 && level < 1)) throw new ArgumentOutOfRangeException(nameof(level), level, "a level in (0, 1)");
        var n = baseline.Count;
        var delta = new int[n];
        for (var i = 0; i < n; i++) delta[i] = (baseline[i] ? 1 : 0) - (candidate[i] ? 1 : 0);
        var estimate = delta.Sum() / (double)n;
        var random = new Random(seed);
        var stats = new double[resamples];
        for (var r = 0; r < resamples; r++)
        {
            long sum = 0;
            for (var i = 0; i < n; i++) sum += delta[random.Next(n)];
            stats[r] = sum / (double)n;
        }
        Array.Sort(stats);
        var (low, high) = (Quantile(stats, (1 - level) / 2), Quantile(stats, (1 + level) / 2));
        return new ConfidenceInterval(estimate, Math.Min(low, estimate), Math.Max(high, estimate), level, resamples, n);
    }

    /// <summary>The <paramref name="q"/> quantile of sorted <paramref name="sorted"/>, linearly interpolated (type 7).</summary>
    private static double Quantile(double[] sorted, double q)
    {
        var h = (sorted.Length - 1) * q;
        var (lo, hi) = ((int)Math.Floor(h), (int)Math.Ceiling(h));
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }
}

/// <summary>The class each sample is given (argmax of the first output) and its label: what per-sample acceptance tests need.</summary>
public sealed record SamplePredictions(int[] Predicted, int[]? Labels)
{
    /// <summary>Samples whose output row holds a value that is not a finite number (NaN or infinity): their prediction means nothing.</summary>
    public int NonFinite { get; init; }

    /// <summary>Per sample: predicted its label (labelled data only).</summary>
    public bool[] Correct() => Labels is { } labels
        ? Predicted.Select((p, i) => p == labels[i]).ToArray()
        : throw new DataException("the data has no labels: accuracy needs labelled data; measure fidelity to the original model instead");

    /// <summary>Per sample: predicted the class <paramref name="reference"/> predicted (top-1 agreement, fidelity).</summary>
    public bool[] Agrees(SamplePredictions reference) => Predicted.Select((p, i) => p == reference.Predicted[i]).ToArray();

    /// <summary>The predictions of the model at <paramref name="path"/> on every sample of <paramref name="data"/> (in order).</summary>
    public static SamplePredictions Of(string path, IDataSource data, RunnerOptions? runner = null)
    {
        using var session = OnnxRunner.Load(path, runner);
        var (predicted, labels) = (new List<int>(data.Count), data.ClassCount is null ? null : new List<int>(data.Count));
        var nonFinite = 0;
        foreach (var (batch, outputs) in session.Batches(data, 256, check: false))
        {
            var output = outputs[0];
            if (output.Shape.Length != 2 || output.Data is not float[] logits)
                throw new DataException($"'{session.Source}' output '{output.Name}' has shape [{string.Join(",", output.Shape)}]; per-sample predictions need float32 [batch, classes]");
            var classes = (int)output.Shape[1];
            for (var i = 0; i < batch.Count; i++)
            {
                var row = logits.AsSpan(i * classes, classes);
                predicted.Add(ClassScore.ArgMax(row));
                if (!AllFinite(row)) nonFinite++;
            }
            if (labels is not null) labels.AddRange(batch.Labels!);
        }
        return new SamplePredictions(predicted.ToArray(), labels?.ToArray()) { NonFinite = nonFinite };
    }

    private static bool AllFinite(ReadOnlySpan<float> row)
    {
        foreach (var x in row) if (!float.IsFinite(x)) return false;
        return true;
    }
}
