using System.Text.Json;
using System.Text.Json.Serialization;
using Shrink.Architecture;
using Shrink.Search;

namespace Shrink.Training.Architecture;

/// <summary>
/// What an architecture search found so far (<c>DIR/result.json</c>, rewritten atomically after every trial): every trial,
/// the Pareto front of the goals among feasible trials, the best trial of each goal, the machine latency was measured on,
/// and at the end the fully trained models (<see cref="ArchitectureSearchOptions.FinalEpochs"/>).
/// </summary>
public sealed record ArchitectureSearchResult
{
    public required string Space { get; init; }
    public required string Directory { get; init; }
    public required ArchitectureStrategy Strategy { get; init; }
    /// <summary>The goals, e.g. "accuracy (maximize)".</summary>
    public required IReadOnlyList<string> Objectives { get; init; }
    /// <summary>The constraints, e.g. "params ≤ 100000".</summary>
    public required IReadOnlyList<string> Constraints { get; init; }
    /// <summary>The CPU model and ONNX Runtime threads of every latency figure.</summary>
    public required MachineInfo Machine { get; init; }
    /// <summary>How every candidate, final model and zoo reference was trained: "adam lr 0.001, constant rate, batch 128; 3 epochs per trial, 15 final".</summary>
    public string Training { get; init; } = "";
    public required IReadOnlyList<ArchitectureTrial> Trials { get; init; }
    /// <summary>The trials of the first front (feasible ones first by Deb's rule; with successive halving, of the top rung reached), by number.</summary>
    public required IReadOnlyList<int> Pareto { get; init; }
    /// <summary>The best trial of each goal (by metric), when one is ranked.</summary>
    public required IReadOnlyDictionary<string, int> Best { get; init; }
    /// <summary>The best of each goal as <c>DIR/best-GOAL.onnx</c>, trained afresh for the final epochs when there are any (empty until the run ends).</summary>
    public IReadOnlyList<FinalModel> Final { get; init; } = [];
    /// <summary>Every trial of the front as <c>DIR/front/trial-NNNN.onnx</c>, trained afresh for the final epochs when there are any (empty until the run ends).</summary>
    public IReadOnlyList<FinalModel> FrontModels { get; init; } = [];
    /// <summary>The epochs the models the run ends with were trained afresh for (0: they are the trials' own).</summary>
    public int FinalEpochs { get; init; }
    /// <summary>The reference points (<see cref="ArchitectureSearchOptions.References"/>), evaluated at the end of the run.</summary>
    public IReadOnlyList<ReferencePoint> References { get; init; } = [];
    /// <summary><c>DIR/report.html</c>, the report page (with <c>report.json</c> beside it).</summary>
    public string? Report { get; init; }
    /// <summary>The latency table (<see cref="LatencyMode.Table"/>, <see cref="LatencyMode.TableOnly"/>): its file, its blocks, and how its predictions agree with the measurements; null when latency is only measured.</summary>
    public LatencyTableSummary? LatencyTable { get; init; }
    /// <summary>Why the run stopped ("trial-limit", "exhausted", "cancelled"), or "running".</summary>
    public string Stop { get; init; } = "running";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a result written by <see cref="ToJson"/>.</summary>
    public static ArchitectureSearchResult FromJson(string json) => JsonSerializer.Deserialize<ArchitectureSearchResult>(json, Json)!;
}

/// <summary>One trial as the result shows it (<see cref="Number"/> counts from 0, as the store does; its files are in <c>trials/NNNN</c> with NNNN = Number + 1).</summary>
public sealed record ArchitectureTrial(int Number, string Status, string Origin, int? Parent, double Budget, string Summary,
    IReadOnlyDictionary<string, JsonElement> Configuration, IReadOnlyDictionary<string, double> Metrics, string? Model, string? Reason,
    bool Feasible, double? Seconds)
{
    internal static ArchitectureTrial Of(Trial t, Objective objective, ArchitectureSpace space) => new(t.Number, t.Status.ToString().ToLowerInvariant(),
        t.Origin, t.Parent, t.Budget, t.Attributes.GetValueOrDefault("summary") ?? space.Summary(t.Configuration),
        t.Configuration.Values.ToDictionary(v => v.Key, v => v.Value), t.Metrics, t.ModelPath, t.Error, objective.IsFeasible(t), t.Seconds);
}

/// <summary>A model the search ends with: trial <see cref="Trial"/> as the best of <see cref="Goal"/> (or "front"), trained for <see cref="Epochs"/> epochs, in <see cref="Model"/>, with its metrics.</summary>
public sealed record FinalModel(string Goal, int Trial, int Epochs, string Model, IReadOnlyDictionary<string, double> Metrics);

/// <summary>
/// The latency table of a run: <see cref="File"/> (<c>DIR/latency-table.json</c>), the <see cref="Blocks"/> this machine's section
/// holds, and per batch size how the predictions agree with the measurements of the completed trials (both empty with
/// <see cref="LatencyMode.TableOnly"/>, which measures none): <see cref="Agreement"/> on the calibrated predictions only
/// (trials predicted after the calibration existed, each from a fit on earlier trials, never on itself), <see cref="Uncalibrated"/>
/// the table's plain sum on every measured trial (the predictor before calibration), and the <see cref="Calibration"/> the
/// trials measured by the end fit (what the next prediction would use; empty before <see cref="LatencyTable.CalibrateAfter"/> trials).
/// </summary>
public sealed record LatencyTableSummary(string File, LatencyMode Mode, int Blocks, IReadOnlyList<LatencyAgreement> Agreement)
{
    /// <summary>The table's uncalibrated sum against the measurement, on every measured trial.</summary>
    public IReadOnlyList<LatencyAgreement> Uncalibrated { get; init; } = [];

    /// <summary>The calibration per batch fitted on every measured trial (empty while too few).</summary>
    public IReadOnlyList<LatencyCalibration> Calibration { get; init; } = [];

    internal static LatencyTableSummary Of(SearchRun run, IReadOnlyList<Trial> trials)
    {
        var table = run.Table!;
        var measuredMode = run.Options.Latency != LatencyMode.TableOnly;
        var completed = trials.Where(t => t.Status == TrialStatus.Completed).ToList();
        IReadOnlyList<LatencyAgreement> Of(bool calibrated, Func<Trial, int, string> predictedName) => !measuredMode ? [] : run.Options.LatencyBatches.Select(batch =>
        {
            var measured = ArchitectureMetrics.LatencyAt(batch);
            return LatencyAgreement.Of(batch, completed.Where(t => t.Metrics.ContainsKey(predictedName(t, batch)) && t.Metrics.ContainsKey(measured)
                    && (!calibrated || t.Metrics.GetValueOrDefault(ArchitectureMetrics.CalibrationTrials) > 0))
                .Select(t => (t.Metrics[predictedName(t, batch)], t.Metrics[measured])).ToList());
        }).ToList();
        return new LatencyTableSummary(Path.Combine(run.Directory, Shrink.Architecture.LatencyTable.FileName), run.Options.Latency, table.Count,
            Of(true, (_, b) => ArchitectureMetrics.PredictedLatencyAt(b)))
        {
            // a trial of an earlier version has no table sum beside its prediction: its prediction was the sum
            Uncalibrated = Of(false, (t, b) => t.Metrics.ContainsKey(ArchitectureMetrics.TableLatencyAt(b)) ? ArchitectureMetrics.TableLatencyAt(b) : ArchitectureMetrics.PredictedLatencyAt(b)),
            Calibration = measuredMode ? table.Calibrate() : [],
        };
    }
}
