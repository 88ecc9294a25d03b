using ConfidenceInterval = Shrink.Evaluation.ConfidenceInterval;
using System.Text.Json;

namespace Shrink.Training.Optimization;

/// <summary>
/// The report of an optimize run, as <c>DIR/report.json</c> holds it and <c>DIR/report.html</c> shows it (<see cref="ReportPage"/>):
/// the original against the chosen model, every trial over time, both Pareto fronts with the chosen trial marked, the
/// chosen model's layers (sparsity and precision), its training curves, the rejected trials with their reasons, the
/// budget and the verdict, and the recipe that replays the chosen model. Trials count from 1 here, as files and lines do.
/// Stable field names (<see cref="Version"/> 1); bytes, ms, points (accuracy, drops), fidelity in [0, 1].
/// </summary>
public sealed record RunReport
{
    public int Version { get; init; } = 1;
    public required string Model { get; init; }
    public required string Directory { get; init; }
    public required OptimizeGoal Goal { get; init; }
    /// <summary>"accuracy drop ≤ 0.5 points".</summary>
    public required string Budget { get; init; }
    /// <summary>Why the run stopped ("trial-limit", "wall-time", "exhausted", "cancelled"), or "running" while it runs.</summary>
    public required string Stop { get; init; }
    /// <summary>The metric the goal ranks trials by (<see cref="TrialMetrics.Bytes"/> or <see cref="TrialMetrics.Latency"/>).</summary>
    public required string ObjectiveMetric { get; init; }
    /// <summary>The chosen trial (from 1), or null when no trial completed.</summary>
    public int? Chosen { get; init; }
    public required bool Met { get; init; }
    public double? Miss { get; init; }
    public IReadOnlyList<string> MissReasons { get; init; } = [];
    /// <summary>The original model's figures.</summary>
    public required ModelFigures Original { get; init; }
    /// <summary>The chosen model's figures (null when no trial completed).</summary>
    public ModelFigures? Result { get; init; }
    /// <summary>The final re-evaluation of the chosen model with its 95 % intervals (null until the run ends).</summary>
    public ConfidenceInterval? FinalAccuracy { get; init; }
    public ConfidenceInterval? FinalDrop { get; init; }
    public ConfidenceInterval? FinalFidelity { get; init; }
    public int? FinalSamples { get; init; }
    public required IReadOnlyList<ReportTrial> Trials { get; init; }
    public required IReadOnlyList<FrontPoint> SizeFront { get; init; }
    public required IReadOnlyList<FrontPoint> LatencyFront { get; init; }
    /// <summary>The chosen model cut into parts at the end (<see cref="OptimizeOptions.Split"/>), or null.</summary>
    public SplitOutcome? Parts { get; init; }
    /// <summary>The output fidelity check of the chosen model when it merges layers or converts to half precision (null otherwise).</summary>
    public OutputCheck? ChosenOutputs { get; init; }
    /// <summary>The chosen model's layers with weights, in graph order.</summary>
    public IReadOnlyList<LayerPrecision> Layers { get; init; } = [];
    /// <summary>The chosen trial's training runs (each fine-tuning of each stage), in order.</summary>
    public IReadOnlyList<TrainingCurve> Training { get; init; } = [];
    /// <summary>Every trial that failed, was pruned or misses the budget, with why.</summary>
    public IReadOnlyList<RejectedTrial> Rejected { get; init; } = [];
    /// <summary>The recipe of the chosen model (<c>DIR/best.recipe.yaml</c>), or null when none is written.</summary>
    public string? Recipe { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, OptimizeResult.Json);

    public static RunReport FromJson(string json) => JsonSerializer.Deserialize<RunReport>(json, OptimizeResult.Json)!;
}

/// <summary>
/// One model's figures for the before/after table: parameters, non-zeros, file bytes, the size goal's bytes (<see cref="TrialSize"/>), MACs per sample (null
/// when a layer's MACs are not counted: the integer kernels ConvInteger, MatMulInteger, QLinear*, MatMulNBits),
/// accuracy in points (null on a fidelity budget) with its 95 % interval when measured with one, the top-1 agreement with
/// the original (the chosen model on a fidelity budget), and ONNX Runtime p50 ms per batch size.
/// </summary>
public sealed record ModelFigures(long Parameters, long NonZero, long Bytes, long PackedBytes, long? Macs, double? Accuracy,
    ConfidenceInterval? AccuracyInterval, double? Fidelity, ConfidenceInterval? FidelityInterval, IReadOnlyDictionary<int, double> LatencyMs);

/// <summary>
/// The output fidelity check of a trial that merges layers or converts to half precision: its outputs against the original's
/// on up to 1,000 test samples, worst over the outputs (<see cref="TrialMetrics.OutputCosine"/>, <see cref="TrialMetrics.OutputSqnr"/>
/// — null when the outputs are equal — and <see cref="TrialMetrics.OutputMaxError"/>).
/// </summary>
public sealed record OutputCheck(double Cosine, double? SqnrDb, double MaxAbsError)
{
    /// <summary>The check of a trial's metrics, or null when it was not made.</summary>
    public static OutputCheck? Of(IReadOnlyDictionary<string, double> m) => m.TryGetValue(TrialMetrics.OutputCosine, out var c)
        ? new OutputCheck(c, m.TryGetValue(TrialMetrics.OutputSqnr, out var db) ? db : null, m[TrialMetrics.OutputMaxError]) : null;
}

/// <summary>
/// A trial over time: its number (from 1), its start and finish in seconds since the run's first trial started, status,
/// configuration summary, the objective's value (null when it has none), its accuracy drop or fidelity, and whether it meets the budget.
/// </summary>
public sealed record ReportTrial(int Number, double? Start, double? Finish, string Status, string Summary, double? Objective, double? Drop, double? Fidelity, bool Feasible);

/// <summary>A completed trial (from 1) in accuracy against size or latency: its x (bytes or ms), its drop or fidelity, whether it is on the front, meets the budget, is the chosen one.</summary>
public sealed record FrontPoint(int Trial, double X, double Y, bool OnFront, bool Feasible, bool Chosen);

/// <summary>
/// A layer of the chosen model with weights: its node, op type, weight initializer, parameters, non-zeros, sparsity and
/// precision ("float32", "int8", "int4", "shared 5 bits" for a clustered layer).
/// </summary>
public sealed record LayerPrecision(string Layer, string OpType, string Weight, long Parameters, long NonZero, double Sparsity, string Precision);

/// <summary>One training run of the chosen trial ("01-prune: fine-tune"): its loss per epoch (and the test loss when measured).</summary>
public sealed record TrainingCurve(string Label, IReadOnlyList<EpochLoss> Epochs);

/// <summary>An epoch's training loss and test loss (null when not measured), the epoch counted from 1.</summary>
public sealed record EpochLoss(int Epoch, double TrainLoss, double? TestLoss);

/// <summary>A trial (from 1) that is not a candidate, and why in words ("over the budget by 0.42 points", "failed: …").</summary>
public sealed record RejectedTrial(int Number, string Status, string Summary, string Reason);
