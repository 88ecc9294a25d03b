namespace Shrink.Architecture;

/// <summary>
/// How well the <see cref="LatencyTable"/>'s predictions agree with the candidates' measured latency at one batch size, over
/// the <see cref="Trials"/> both are known for: the share predicted within ±10 % of the measurement, and Kendall's τ (τ-b,
/// ties counted) between the rankings the two give (1: the same order, 0: unrelated, −1: reversed; null under two trials).
/// </summary>
public sealed record LatencyAgreement(int Batch, int Trials, double WithinTenPercent, double? KendallTau)
{
    /// <summary>The agreement of (predicted, measured) milliseconds <paramref name="pairs"/> at <paramref name="batch"/>.</summary>
    public static LatencyAgreement Of(int batch, IReadOnlyList<(double Predicted, double Measured)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        return new LatencyAgreement(batch, pairs.Count, ShareWithin(pairs, 0.10),
            Tau(pairs.Select(p => p.Predicted).ToList(), pairs.Select(p => p.Measured).ToList()));
    }

    /// <summary>The share of <paramref name="pairs"/> whose prediction is within <paramref name="tolerance"/> (relative) of the measurement; 0 when there are none.</summary>
    public static double ShareWithin(IReadOnlyList<(double Predicted, double Measured)> pairs, double tolerance)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        return pairs.Count == 0 ? 0 : pairs.Count(p => Math.Abs(p.Predicted - p.Measured) <= tolerance * Math.Abs(p.Measured) + 1e-12) / (double)pairs.Count;
    }

    /// <summary>
    /// Kendall's τ-b of <paramref name="a"/> against <paramref name="b"/>: (concordant − discordant) pairs over
    /// √((pairs − ties in a)(pairs − ties in b)); null with fewer than two values or when either side is all ties.
    /// </summary>
    public static double? Tau(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count != b.Count) throw new ArgumentException($"the rankings have {a.Count} and {b.Count} values", nameof(b));
        long concordant = 0, discordant = 0, tiesA = 0, tiesB = 0, pairs = 0;
        for (var i = 0; i < a.Count; i++)
            for (var j = i + 1; j < a.Count; j++)
            {
                pairs++;
                var (da, db) = (Math.Sign(a[i] - a[j]), Math.Sign(b[i] - b[j]));
                if (da == 0) tiesA++;
                if (db == 0) tiesB++;
                if (da * db > 0) concordant++;
                else if (da * db < 0) discordant++;
            }
        var denominator = Math.Sqrt((double)(pairs - tiesA) * (pairs - tiesB));
        return denominator == 0 ? null : (concordant - discordant) / denominator;
    }
}
