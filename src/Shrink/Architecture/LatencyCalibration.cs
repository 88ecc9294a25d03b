namespace Shrink.Architecture;

/// <summary>
/// A linear correction of the <see cref="LatencyTable"/>'s sum at one batch size, fitted on trials whose whole network was
/// measured: <c>calibrated = Scale · table + OffsetMs</c> (never under a quarter of <c>Scale · table</c>). The fit weighs
/// each trial by 1 / measured², so it minimizes the squared <em>relative</em> error, the quantity the ±10 % share counts.
/// <see cref="Trials"/> are the trial numbers it was fitted on: a prediction corrected by it is reported only for trials
/// not among them.
/// </summary>
public sealed record LatencyCalibration(int Batch, double Scale, double OffsetMs, IReadOnlyList<int> Trials)
{
    /// <summary>The corrected milliseconds of a table sum of <paramref name="tableMs"/>.</summary>
    public double Apply(double tableMs) => Math.Max(Scale * tableMs + OffsetMs, 0.25 * Scale * tableMs);

    /// <summary>
    /// The weighted least-squares line through (table sum, measured) <paramref name="points"/> of <paramref name="trials"/>;
    /// with one point, points of one table sum, or a line of slope ≤ 0, the ratio alone (offset 0, scale Σ w·x·m / Σ w·x²).
    /// </summary>
    public static LatencyCalibration Fit(int batch, IReadOnlyList<int> trials, IReadOnlyList<(double Table, double Measured)> points)
    {
        ArgumentNullException.ThrowIfNull(trials);
        ArgumentNullException.ThrowIfNull(points);
        if (points.Count == 0 || points.Count != trials.Count) throw new ArgumentException($"give one (table, measured) point per trial ({points.Count} points, {trials.Count} trials)", nameof(points));
        if (points.Any(p => !(p.Table > 0) || !(p.Measured > 0))) throw new ArgumentException("table sums and measurements must be positive", nameof(points));
        double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
        foreach (var (x, m) in points)
        {
            var w = 1 / (m * m);
            (sw, sx, sy, sxx, sxy) = (sw + w, sx + w * x, sy + w * m, sxx + w * x * x, sxy + w * x * m);
        }
        var det = sw * sxx - sx * sx;
        if (points.Count >= 2 && det > 1e-9 * sw * sxx)
        {
            var scale = (sw * sxy - sx * sy) / det;
            if (scale > 0) return new LatencyCalibration(batch, scale, (sy - scale * sx) / sw, trials);
        }
        return new LatencyCalibration(batch, sxy / sxx, 0, trials);
    }
}
