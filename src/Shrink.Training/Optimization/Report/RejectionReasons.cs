using System.Globalization;

namespace Shrink.Training.Optimization;

/// <summary>Why a trial is not a candidate, in plain words: its error, its refusal, by how much it is over the budget, at which batch sizes it is not faster.</summary>
internal static class RejectionReasons
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Of(OptimizeResult r, TrialSummary t) => t.Status switch
    {
        "failed" => $"failed: {t.Error ?? "no error recorded"}",
        "pruned" => $"not run: {t.Error ?? "refused"}",
        _ => string.Join("; ", Budget(r, t).Concat(Speed(r, t)).DefaultIfEmpty("outside the budget")),
    };

    private static IEnumerable<string> Budget(OptimizeResult r, TrialSummary t)
    {
        var m = t.Metrics;
        if (!(m.GetValueOrDefault(TrialMetrics.Excess, double.PositiveInfinity) > 0)) yield break;
        var excess = m.GetValueOrDefault(TrialMetrics.Excess);
        if (r.MinFidelity is { } min && m.TryGetValue(TrialMetrics.Fidelity, out var f))
            yield return string.Format(Inv, "fidelity {0:F4}{1} is under the minimum of {2:G} by {3:F4}",
                r.Strict ? m[TrialMetrics.FidelityLow] : f, r.Strict ? " (the 95 % interval's low end)" : "", min, excess);
        else if (r.MaxAccuracyDrop is { } max && m.TryGetValue(TrialMetrics.Drop, out var d))
            yield return string.Format(Inv, "over the budget by {0:F2} points: a drop of {1:F2} points{2} against at most {3:G}",
                excess, r.Strict ? m[TrialMetrics.DropHigh] : d, r.Strict ? " (the 95 % interval's high end)" : "", max);
        else yield return "not measured against the budget";
    }

    private static IEnumerable<string> Speed(OptimizeResult r, TrialSummary t)
    {
        if (r.Goal != OptimizeGoal.Latency || !(t.Metrics.GetValueOrDefault(TrialMetrics.NotFaster) > 0)) yield break;
        var ratios = r.Baseline.LatencyMs.Where(kv => t.Metrics.ContainsKey(kv.Key) && t.Metrics[kv.Key] > 0)
            .Select(kv => string.Format(Inv, "batch {0}: {1:F2}×", kv.Key["latency_ms_b".Length..], kv.Value / t.Metrics[kv.Key]));
        yield return string.Format(Inv, "not measured faster than the original at {0:G} of the {1} batch sizes (p50 speed-ups {2})",
            t.Metrics[TrialMetrics.NotFaster], r.Baseline.LatencyMs.Count, string.Join(", ", ratios));
        if (HalfCompute(t.Configuration) is { } why) yield return why;
    }

    /// <summary>Why a trial that computes in float16 is not faster, or null for any other configuration.</summary>
    public static string? HalfCompute(IReadOnlyDictionary<string, System.Text.Json.JsonElement> configuration) =>
        configuration.TryGetValue(CompressionSpace.Weights, out var w) && w.ValueKind == System.Text.Json.JsonValueKind.String && w.GetString() == CompressionSpace.Fp16Compute
            ? "float16 compute is rarely faster on a CPU: ONNX Runtime's CPU provider has float16 kernels for few ops, the others run in float32 behind Casts, and the Casts cost more than the half-width arithmetic saves"
            : null;
}
