using System.Text.Json;
using System.Text.Json.Serialization;
using Shrink.Evaluation;
using Shrink.Search;

namespace Shrink.Training.Optimization;

/// <summary>
/// What <see cref="Optimizer.Run"/> found, written as <c>DIR/result.json</c> after every trial and at the end (the input of
/// <c>report.json</c> and the report page): the original's figures, the chosen trial, whether it meets the budget and by
/// how much it misses when not, its final re-evaluation, every trial, and both Pareto fronts. Stable field names
/// (<see cref="Version"/> 1); sizes in bytes, latencies in ms, accuracies and drops in points, fidelity in [0, 1].
/// </summary>
public sealed record OptimizeResult
{
    public int Version { get; init; } = 1;
    public required string Model { get; init; }
    public required string Directory { get; init; }
    public required OptimizeGoal Goal { get; init; }
    /// <summary>"accuracy drop ≤ 0.5 points".</summary>
    public required string Budget { get; init; }
    public double? MaxAccuracyDrop { get; init; }
    public double? MinFidelity { get; init; }
    public bool Strict { get; init; }
    public required BaselineFigures Baseline { get; init; }
    /// <summary>The chosen trial: the best within the budget, else the closest attempt (null when no trial completed).</summary>
    public TrialSummary? Best { get; init; }
    /// <summary>True when <see cref="Best"/> meets the budget.</summary>
    public bool Met { get; init; }
    /// <summary>By how much <see cref="Best"/> misses the budget (points, or fidelity), when it does.</summary>
    public double? Miss { get; init; }
    /// <summary>Why <see cref="Best"/> misses, one sentence each ("drop 0.72 points, over the budget of 0.5", "not measured faster at batch 256"); empty when it meets it.</summary>
    public IReadOnlyList<string> MissReasons { get; init; } = [];
    /// <summary>The chosen model measured again on the full test split at the end (null until the run ends).</summary>
    public FinalEvaluation? Final { get; init; }
    public required IReadOnlyList<TrialSummary> Trials { get; init; }
    /// <summary>Trials on the front of accuracy (or fidelity) against size (TrialMetrics.Bytes), and against latency.</summary>
    public required ParetoFronts Pareto { get; init; }
    /// <summary>
    /// Successive halving's budgets (shares of the training and test samples, smallest first), or null for the other
    /// strategies: only trials at the full budget (1) can be <see cref="Best"/> and enter <see cref="Pareto"/>.
    /// </summary>
    public IReadOnlyList<double>? Budgets { get; init; }
    /// <summary>Why the run stopped ("trial-limit", "wall-time", "exhausted", "cancelled"), or "running".</summary>
    public string Stop { get; init; } = "running";
    /// <summary>The chosen model cut into parts at the end (<see cref="OptimizeOptions.Split"/>), or null when not asked for or not yet done.</summary>
    public SplitOutcome? Parts { get; init; }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a result written by <see cref="ToJson"/>.</summary>
    public static OptimizeResult FromJson(string json) => JsonSerializer.Deserialize<OptimizeResult>(json, Json)!;
}

/// <summary>The original model's figures: packed and file bytes, test accuracy (points; null without labels) and p50 ms per batch size.</summary>
/// <summary>
/// The split of the chosen model (<see cref="OptimizeOptions.Split"/>): the directory of its parts and manifest, how many
/// parts, the largest part's weights, the bytes passed between parts, in words; or, when it could not be cut under the
/// bound (a layer larger than it), nothing written and <see cref="Error"/> saying why.
/// </summary>
public sealed record SplitOutcome(string? Directory, int Parts, long LargestPartBytes, string Description, string? Error = null);

public sealed record BaselineFigures(long Bytes, long FileBytes, double? Accuracy, IReadOnlyDictionary<string, double> LatencyMs);

/// <summary>
/// One trial as the result lists it: its configuration, a summary, status, metrics, model, error and time, how it was made
/// (<see cref="Origin"/>, from <see cref="Parent"/>) and its <see cref="Budget"/> (1 but for successive halving's smaller rungs).
/// </summary>
public sealed record TrialSummary(int Number, string Status, string Summary, IReadOnlyDictionary<string, JsonElement> Configuration,
    IReadOnlyDictionary<string, double> Metrics, string? Model, string? Error, double? Seconds, bool Feasible, string Origin,
    double Budget = 1, int? Parent = null, string? Hash = null)
{
    /// <summary>When the trial (its last attempt) started and finished; null when it has not (absent from results written before these fields).</summary>
    public DateTimeOffset? Started { get; init; }
    public DateTimeOffset? Finished { get; init; }

    public static TrialSummary Of(Trial t, Objective objective) => new(t.Number, t.Status.ToString().ToLowerInvariant(),
        t.Attributes.GetValueOrDefault("summary") ?? CompressionSpace.Summary(t.Configuration),
        t.Configuration.Values.ToDictionary(v => v.Key, v => v.Value), t.Metrics, t.ModelPath, t.Error, t.Seconds, objective.IsFeasible(t) && t.Budget >= 1,
        t.Origin, t.Budget, t.Parent, t.Hash)
    { Started = t.Started, Finished = t.Finished };
}

/// <summary>The Pareto fronts of accuracy against size (bytes) and against latency (at the largest batch size), each ordered by trial number.</summary>
public sealed record ParetoFronts(IReadOnlyList<ParetoPoint> AccuracyVsSize, IReadOnlyList<ParetoPoint> AccuracyVsLatency);

/// <summary>
/// A trial on a front (<see cref="Trial"/> counts from 0, as the store does): its accuracy drop in points, or its fidelity;
/// its size in bytes (<see cref="TrialMetrics.Bytes"/>); its p50 ms; and whether it meets the budget.
/// </summary>
public sealed record ParetoPoint(int Trial, double? Drop, double? Fidelity, double Bytes, double LatencyMs, bool Feasible);

/// <summary>
/// The final re-evaluation of the chosen model on the full test split: accuracy in points and its drop with 95 % intervals
/// (labelled data), or the agreement with the original with its interval.
/// </summary>
public sealed record FinalEvaluation(int Samples, ConfidenceInterval? Accuracy, ConfidenceInterval? Drop, ConfidenceInterval? Fidelity);
