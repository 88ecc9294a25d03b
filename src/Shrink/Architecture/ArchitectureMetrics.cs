using System.Globalization;
using System.Text.RegularExpressions;
using Shrink.Ir;
using Shrink.Search;
using Shrink.Stats;

namespace Shrink.Architecture;

/// <summary>
/// The metrics of an architecture trial, as the trial store, <c>result.json</c> and constraints name them, and the parsing
/// of goals and constraints written as text (<c>accuracy</c>, <c>latency_b1</c>; <c>params &lt; 100k</c>,
/// <c>latency_b1_ms &lt; 0.3</c>). <see cref="Params"/>, <see cref="Bytes"/> and <see cref="Macs"/> are known from the
/// built network before any training (<see cref="Static"/>), so a candidate outside a constraint on them costs no training.
/// </summary>
public static partial class ArchitectureMetrics
{
    /// <summary>Test accuracy in points (labelled data).</summary>
    public const string Accuracy = "accuracy";
    /// <summary>Top-1 agreement with the teacher on the test split, in [0, 1] (data without labels).</summary>
    public const string Fidelity = "fidelity";
    /// <summary>Parameters (elements of the weights).</summary>
    public const string Params = "params";
    /// <summary>Bytes of the parameters at their stored width.</summary>
    public const string Bytes = "bytes";
    /// <summary>Multiply-accumulates per sample.</summary>
    public const string Macs = "macs";
    /// <summary>Seconds of the candidate's training.</summary>
    public const string TrainSeconds = "train_seconds";

    /// <summary>Median ONNX Runtime milliseconds per run at <paramref name="batch"/>: <c>latency_b1_ms</c>.</summary>
    public static string LatencyAt(int batch) => $"latency_b{batch.ToString(CultureInfo.InvariantCulture)}_ms";

    /// <summary>The latency table's prediction at <paramref name="batch"/> (<see cref="LatencyTable"/>): <c>predicted_latency_b1_ms</c>.</summary>
    public static string PredictedLatencyAt(int batch) => "predicted_" + LatencyAt(batch);

    /// <summary>The latency table's uncalibrated sum at <paramref name="batch"/>, its pieces timed in context (<see cref="LatencyTable.PredictInContext"/>): <c>table_latency_b1_ms</c>.</summary>
    public static string TableLatencyAt(int batch) => "table_" + LatencyAt(batch);

    /// <summary>The latency table's sum at <paramref name="batch"/> of its pieces timed alone (<see cref="LatencyTable.Predict"/>), kept for comparison: <c>table_alone_latency_b1_ms</c>.</summary>
    public static string TableAloneLatencyAt(int batch) => "table_alone_" + LatencyAt(batch);

    /// <summary>The measured trials the prediction's <see cref="LatencyCalibration"/> was fitted on (0: uncalibrated, the prediction is the table's sum).</summary>
    public const string CalibrationTrials = "calibration_trials";

    /// <summary>True for a latency metric (<c>latency_bN_ms</c>).</summary>
    public static bool IsLatency(string metric) => Latency().IsMatch(metric);

    /// <summary>True for the metrics known before training (<see cref="Params"/>, <see cref="Bytes"/>, <see cref="Macs"/>).</summary>
    public static bool IsStatic(string metric) => metric is Params or Bytes or Macs;

    /// <summary>Parameters, bytes and MACs per sample of <paramref name="model"/> (the op registry's counting).</summary>
    public static Dictionary<string, double> Static(Model model)
    {
        var stats = ModelStats.Compute(model);
        return new() { [Params] = stats.Parameters, [Bytes] = stats.PackedBytes, [Macs] = stats.Macs };
    }

    /// <summary>
    /// A goal by name: <c>accuracy</c> and <c>fidelity</c> are maximized; <c>params</c>, <c>bytes</c>, <c>macs</c> and
    /// latencies (<c>latency_b1</c> or <c>latency_b1_ms</c>, any batch measured) minimized.
    /// </summary>
    public static Goal ParseGoal(string text)
    {
        var name = Metric(text, "Objectives");
        return new Goal(name, name is Accuracy or Fidelity ? Direction.Maximize : Direction.Minimize);
    }

    /// <summary>
    /// A constraint such as <c>params &lt; 100k</c>, <c>macs &lt;= 5M</c>, <c>latency_b1_ms &lt; 0.3</c> or <c>accuracy &gt; 85</c>
    /// (k, M and G multiply by 10³, 10⁶, 10⁹). The engine's bounds are inclusive: &lt; and &lt;= both mean at most.
    /// </summary>
    public static Constraint ParseConstraint(string text)
    {
        var m = ConstraintText().Match(text ?? "");
        if (!m.Success)
            throw OptionsException.For("Constraints", $"'{Text.Message.Name(text ?? "")}' is not METRIC < LIMIT or METRIC > LIMIT; write e.g. params < 100k or latency_b1_ms < 0.3");
        var limit = double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture) * m.Groups[4].Value switch { "k" or "K" => 1e3, "M" => 1e6, "G" => 1e9, _ => 1 };
        return new Constraint(Metric(m.Groups[1].Value, "Constraints"), m.Groups[2].Value.StartsWith('<') ? Bound.AtMost : Bound.AtLeast, limit);
    }

    /// <summary>Refuses constraints no candidate can meet together (<c>params &lt; 10</c> and <c>params &gt; 100</c>).</summary>
    public static void CheckConsistent(IReadOnlyList<Constraint> constraints)
    {
        foreach (var group in constraints.GroupBy(c => c.Metric))
        {
            var most = group.Where(c => c.Bound == Bound.AtMost).MinBy(c => c.Limit);
            var least = group.Where(c => c.Bound == Bound.AtLeast).MaxBy(c => c.Limit);
            if (most is not null && least is not null && most.Limit < least.Limit)
                throw OptionsException.For("Constraints", FormattableString.Invariant(
                    $"hold {group.Key} < {most.Limit:G} and {group.Key} > {least.Limit:G}, which no candidate can meet; drop one or widen them"));
        }
    }

    /// <summary>A metric name as written: <c>latency_b1</c> is <c>latency_b1_ms</c>; an unknown name is refused naming <paramref name="property"/>.</summary>
    private static string Metric(string text, string property)
    {
        var name = text.Trim().ToLowerInvariant();
        if (Latency().Match(name) is { Success: true } l) return LatencyAt(int.Parse(l.Groups[1].Value, CultureInfo.InvariantCulture));
        return name is Accuracy or Fidelity or Params or Bytes or Macs ? name
            : throw OptionsException.For(property, $"name '{Text.Message.Name(text)}', which is not a metric; use accuracy, fidelity, params, bytes, macs or latency_bN_ms (N a batch size measured)");
    }

    [GeneratedRegex(@"^latency_b([1-9][0-9]{0,4})(?:_ms)?$")]
    private static partial Regex Latency();

    [GeneratedRegex(@"^\s*([A-Za-z0-9_]+)\s*(<=|<|>=|>)\s*([0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)\s*([kKMG]?)\s*$")]
    private static partial Regex ConstraintText();
}
