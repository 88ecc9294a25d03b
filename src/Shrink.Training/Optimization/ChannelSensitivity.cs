using System.Text.Json;
using Shrink.Data;
using Shrink.Ir;
using Shrink.IO;
using Shrink.Passes;
using Shrink.Passes.Cleanup;
using Shrink.Passes.Pruning;
using Shrink.Runtime;

namespace Shrink.Training.Optimization;

/// <summary>A channel group's measured score (accuracy, or top-1 agreement without labels) with a fraction of its channels cut, by fraction.</summary>
public sealed record ChannelGroupSensitivity(string Group, long Channels, IReadOnlyDictionary<string, double> Scores, double Bound);

/// <summary>The structured analysis of a model: the original's score and each prunable channel group's curve and bound.</summary>
public sealed record ChannelSensitivityReport(double Baseline, int Samples, IReadOnlyList<ChannelGroupSensitivity> Groups)
{
    /// <summary>The highest fraction searched per group (<c>channel-ratio[group]</c>).</summary>
    public IReadOnlyDictionary<string, double> Bounds => Groups.ToDictionary(g => g.Group, g => g.Bound);
}

/// <summary>
/// The sensitivity analysis of structured pruning that bounds each <c>channel-ratio[group]</c> of <see cref="CompressionSpace"/>:
/// every channel group the structured pass can cut is cut alone (L1 filters, the other groups whole) at 25, 50 and 75 % of
/// its channels and scored on up to 1,000 test samples in ONNX Runtime; its bound is the highest fraction within twice the
/// budget plus 0.25 of headroom that fine-tuning recovers, on the 1/8 grid in [0.125, 0.75]. Kept in
/// <c>DIR/channel-sensitivity.json</c>, which a resume reads back, so the space is the same.
/// </summary>
public static class ChannelSensitivity
{
    public const string FileName = "channel-sensitivity.json";

    /// <summary>The fractions of a group's channels each group is cut at.</summary>
    public static readonly double[] Fractions = [0.25, 0.5, 0.75];

    /// <summary>The analysis of <paramref name="model"/> on <paramref name="test"/> for a budget of <paramref name="budget"/> (a fraction: 0.005 for half a point).</summary>
    public static ChannelSensitivityReport Run(Model model, IDataSource test, double budget, int limit = 1000)
    {
        model = new PassPipeline(new UnshareInitializersPass()).Run(model, new PassContext()).Model;
        test = test.Take(limit);
        using var dense = OnnxRunner.FromModel(model, null, "the original model");
        double Score(Model m)
        {
            using var r = OnnxRunner.FromModel(m, null, "a channel group cut alone");
            return test.ClassCount is not null ? r.Evaluate(test, 256).Accuracy : global::Shrink.Evaluation.Fidelity.Measure(dense, r, test)[0] is var f ? f.Top1Agreement ?? f.Cosine : 0;
        }
        var baseline = Score(model);
        var groups = new List<ChannelGroupSensitivity>();
        foreach (var g in ChannelGroups.Find(model).Where(g => g.Blocker is null))
        {
            var scores = new Dictionary<string, double>();
            foreach (var fraction in Fractions)
            {
                if (Cut(model, g.Key, fraction) is not { } cut) break;
                scores[fraction.ToString("R", System.Globalization.CultureInfo.InvariantCulture)] = Score(cut);
            }
            if (scores.Count == 0) continue;
            var tolerated = scores.Where(kv => baseline - kv.Value <= Math.Max(2 * budget, 0.002)).Select(kv => double.Parse(kv.Key, System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
            groups.Add(new ChannelGroupSensitivity(g.Key, g.Channels, scores, Math.Clamp(Math.Round((tolerated + 0.25) * 8) / 8, 0.125, 0.75)));
        }
        return new ChannelSensitivityReport(baseline, test.Count, groups);
    }

    /// <summary>The analysis for a run: read back on resume, else measured and written to <c>DIR/channel-sensitivity.json</c>; empty when structured pruning is not searched.</summary>
    internal static IReadOnlyDictionary<string, double> Bounds(OptimizeRun run, Model model)
    {
        if (!run.Options.Uses(CompressionTechnique.Structured)) return new Dictionary<string, double>();
        var path = Path.Combine(run.Directory, FileName);
        if (run.Options.Resume && File.Exists(path)) return JsonSerializer.Deserialize<ChannelSensitivityReport>(File.ReadAllText(path))!.Bounds;
        var report = Run(model, run.Test, CompressionSpace.Budget(run.Options));
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
        return report.Bounds;
    }

    /// <summary><paramref name="model"/> with <paramref name="fraction"/> of group <paramref name="key"/>'s channels cut (L1 filters), or null when the pass cuts nothing there.</summary>
    private static Model? Cut(Model model, string key, double fraction)
    {
        var options = new StructuredPruneOptions { Method = PruneMethod.L1Filter, GroupSparsity = new Dictionary<string, double> { [key] = fraction } };
        try
        {
            var result = new PassPipeline(new StructuredPrunePass(options)).Run(model, new PassContext());
            return result.Modified ? result.Model : null;
        }
        catch (ShrinkUserException)
        {
            return null;
        }
    }
}
