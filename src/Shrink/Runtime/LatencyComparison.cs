namespace Shrink.Runtime;

/// <summary>What an interleaved comparison says of a candidate model against a baseline, at one batch size.</summary>
public enum LatencyVerdict { Faster, Slower, WithinNoise }

/// <summary>Quartiles of one model's run times (milliseconds), with the tail and the mean of the same runs.</summary>
public sealed record LatencyQuartiles(double Q1Ms, double P50Ms, double Q3Ms, int Runs)
{
    public double P90Ms { get; init; }
    public double P99Ms { get; init; }
    public double MeanMs { get; init; }

    /// <summary>The same runs as a <see cref="LatencyResult"/> (percentiles and mean) at <paramref name="batch"/>.</summary>
    public LatencyResult ToResult(int batch) => new(batch, Runs, MeanMs, P50Ms, P90Ms, P99Ms);

    public static LatencyQuartiles Of(IEnumerable<double> times)
    {
        var sorted = times.Order().ToArray();
        if (sorted.Length == 0) throw new ArgumentException("no run times", nameof(times));
        return new(OnnxRunner.Percentile(sorted, 25), OnnxRunner.Percentile(sorted, 50), OnnxRunner.Percentile(sorted, 75), sorted.Length)
        {
            P90Ms = OnnxRunner.Percentile(sorted, 90), P99Ms = OnnxRunner.Percentile(sorted, 99), MeanMs = sorted.Average(),
        };
    }
}

/// <summary>One batch size of a comparison: both models' quartiles, the p50 ratio and the verdict.</summary>
public sealed record LatencyComparisonRow(int Batch, LatencyQuartiles Baseline, LatencyQuartiles Candidate, LatencyVerdict Verdict)
{
    /// <summary>Baseline p50 over candidate p50: above 1 the candidate is quicker.</summary>
    public double Speedup => Baseline.P50Ms / Candidate.P50Ms;

    /// <summary>
    /// The verdict in words, always agreeing with the numbers printed beside it: a faster or slower ratio is printed
    /// with as many decimals as it takes not to read 1.00x.
    /// </summary>
    public string Words => Verdict switch
    {
        LatencyVerdict.Faster => $"{Ratio(Speedup)}x faster",
        LatencyVerdict.Slower => $"NOT faster: {Ratio(1 / Speedup)}x slower",
        _ => $"NOT faster: within noise ({Speedup:F2}x, interquartile ranges overlap)",
    };

    /// <summary>A ratio with 2 decimals, or more when 2 would round it to 1.</summary>
    internal static string Ratio(double x)
    {
        for (var digits = 2; digits < 6; digits++)
            if (Math.Round(x, digits) != 1) return x.ToString($"F{digits}");
        return x.ToString("F6");
    }
}

/// <summary>
/// Latency of two models measured the way a careful benchmark does: both sessions open at once, warmed
/// up, then timed in alternating rounds (a few runs of one, a few of the other, repeated), so that a
/// machine that slows down or speeds up during the measurement affects both alike. The rule: the
/// candidate is <b>faster</b> when its third quartile lies below the baseline's first quartile (the
/// interquartile ranges do not overlap), <b>slower</b> in the mirror case, and <b>within noise</b>
/// otherwise. Two copies of one model are "within noise" (tested).
/// </summary>
public static class LatencyComparison
{
    /// <summary>Compares <paramref name="candidate"/> with <paramref name="baseline"/> at each batch size.</summary>
    public static IReadOnlyList<LatencyComparisonRow> Compare(OnnxRunner baseline, OnnxRunner candidate, IEnumerable<int> batches,
        int warmup = 10, int rounds = 10, int runsPerRound = 5)
    {
        if (rounds < 2 || runsPerRound < 1) throw new ArgumentOutOfRangeException(nameof(rounds), "at least 2 rounds of 1 run each");
        return batches.Select(b => CompareAt(baseline, candidate, b, warmup, rounds, runsPerRound)).ToList();
    }

    /// <summary>The rule of <see cref="LatencyComparison"/> on two sets of quartiles.</summary>
    public static LatencyVerdict Decide(LatencyQuartiles baseline, LatencyQuartiles candidate) =>
        candidate.Q3Ms < baseline.Q1Ms ? LatencyVerdict.Faster
        : candidate.Q1Ms > baseline.Q3Ms ? LatencyVerdict.Slower
        : LatencyVerdict.WithinNoise;

    private static LatencyComparisonRow CompareAt(OnnxRunner baseline, OnnxRunner candidate, int batch, int warmup, int rounds, int runsPerRound)
    {
        using var a = baseline.Probe(batch);
        using var b = candidate.Probe(batch);
        for (var i = 0; i < warmup; i++) { a.Once(); b.Once(); }
        var (ta, tb) = (new List<double>(), new List<double>());
        for (var r = 0; r < rounds; r++)
        {
            var (first, second, tf, ts) = r % 2 == 0 ? (a, b, ta, tb) : (b, a, tb, ta);  // alternate which goes first
            for (var i = 0; i < runsPerRound; i++) tf.Add(first.Once());
            for (var i = 0; i < runsPerRound; i++) ts.Add(second.Once());
        }
        var (qa, qb) = (LatencyQuartiles.Of(ta), LatencyQuartiles.Of(tb));  // (Faster implies a ratio above 1: candidate p50 ≤ Q3 < baseline Q1 ≤ p50)
        return new LatencyComparisonRow(batch, qa, qb, Decide(qa, qb));
    }
}
