using System.Globalization;
using System.Text.Json.Serialization;
using Shrink.Architecture;
using Shrink.Search;
using Shrink.Training.Distillation;

namespace Shrink.Training.Architecture;

/// <summary>
/// How <see cref="ArchitectureSearch"/> proposes candidates (the strategies of <c>Shrink.Search</c>; evolution and annealing
/// change one choice at a time; halving runs successive halving over the training epochs, its rungs drawn at random).
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<ArchitectureStrategy>))]
public enum ArchitectureStrategy { Random, Evolution, Annealing, Halving }

/// <summary>
/// Where an architecture trial's latency comes from: <see cref="Measured"/> in ONNX Runtime after training; <see cref="Table"/>:
/// also predicted from the per-block latency table before the candidate is built (latency constraints prune it then), and the
/// result reports how prediction and measurement agree; <see cref="TableOnly"/>: predicted only, never measured (final models
/// are still measured).
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<LatencyMode>))]
public enum LatencyMode { Measured, Table, TableOnly }

/// <summary>
/// Options of <see cref="ArchitectureSearch.Run"/> (<c>shrink search</c>; the defaults are the command's): the strategy and
/// its budget, the training of each candidate, the goals (<see cref="ArchitectureMetrics"/>) and constraints, and how
/// latency is measured.
/// </summary>
public sealed record ArchitectureSearchOptions
{
    public ArchitectureStrategy Strategy { get; init; } = ArchitectureStrategy.Evolution;

    /// <summary>Trials of the whole run, resumes included.</summary>
    public int Trials { get; init; } = 20;

    /// <summary>Epochs each candidate trains (successive halving gives lower rungs a share of them, at least one).</summary>
    public int EpochsPerTrial { get; init; } = 1;

    /// <summary>Epochs the best candidate of each goal is trained afresh at the end (0: none); written as <c>best-GOAL.onnx</c>.</summary>
    public int FinalEpochs { get; init; }

    /// <summary>What the search optimizes: one goal, or several (a Pareto front). <see cref="ArchitectureMetrics.ParseGoal"/> reads them from text.</summary>
    public IReadOnlyList<Goal> Objectives { get; init; } = [new Goal(ArchitectureMetrics.Accuracy, Direction.Maximize)];

    /// <summary>Limits every candidate must meet (<see cref="ArchitectureMetrics.ParseConstraint"/>); those on params, bytes and MACs are checked before training.</summary>
    public IReadOnlyList<Constraint> Constraints { get; init; } = [];

    /// <summary>Trials trained at once.</summary>
    public int Workers { get; init; } = 1;

    /// <summary>Seed of the search, of every candidate's weights and of its training.</summary>
    public int Seed { get; init; }

    /// <summary>The large batch of the latency measurements (batch 1 is always measured).</summary>
    public int LargeBatch { get; init; } = 256;

    /// <summary>ONNX Runtime intra-op threads of every latency measurement: fixed, and recorded with the CPU model.</summary>
    public int LatencyThreads { get; init; } = 1;

    /// <summary>
    /// Where a candidate's latency comes from (<see cref="LatencyMode"/>): measured after training, or also predicted from the
    /// latency table before the candidate is built (<see cref="Shrink.Architecture.LatencyTable"/>, cached in <c>DIR/latency-table.json</c>),
    /// so a constraint on latency prunes it before training.
    /// </summary>
    public LatencyMode Latency { get; init; } = LatencyMode.Measured;

    /// <summary>
    /// The reference points of the results and the report page (<see cref="ReferenceModel"/>): zoo models trained on the data
    /// for the epochs of a trial, or trained files; evaluated at the end of the run. Default: lenet5, lenet300 and vgg-small.
    /// </summary>
    public IReadOnlyList<ReferenceModel> References { get; init; } = ReferenceModel.Defaults;

    /// <summary>
    /// How each candidate trains (for <see cref="EpochsPerTrial"/> epochs), the final models (<see cref="FinalEpochs"/>) and the zoo
    /// references; a schedule spans each training's own epochs (cosine anneals to its end in a 1-epoch trial as in a 15-epoch final run).
    /// </summary>
    public TrainOptions Training { get; init; } = new() { Optimizer = "adam", Hyper = new Optim.OptimizerOptions { LearningRate = 1e-3 }, EvaluateEachEpoch = false };

    /// <summary>How each candidate learns from the teacher, when the data names one.</summary>
    public DistillationOptions Distillation { get; init; } = new();

    /// <summary>
    /// The trial store, as <see cref="TrialStorage"/> reads it (<c>postgresql://…</c>: a server other runs and machines share;
    /// <c>sqlite:PATH</c>), instead of the run directory's <c>trials.db</c> (null). Not part of what a resume must share.
    /// </summary>
    public string? Storage { get; init; }

    /// <summary>
    /// <see cref="SearchRole.Both"/>: candidates are trained here. <see cref="SearchRole.Coordinator"/> (needs <see cref="Storage"/>,
    /// <see cref="Artifacts"/> and measured latency): they are only proposed, for <c>shrink worker</c>s elsewhere
    /// (<see cref="ArchitectureJob"/>). Not part of what a resume must share.
    /// </summary>
    public SearchRole Role { get; init; }

    /// <summary>The shared artifacts directory of a coordinator (<see cref="ArtifactStore"/>): the space, the data, every trial's model.</summary>
    public string? Artifacts { get; init; }

    /// <summary>The study's name in the store (null: the command's name, "search"); a shared store holds many.</summary>
    public string? StudyName { get; init; }

    /// <summary>Continue the run in the directory (same options) instead of starting one.</summary>
    public bool Resume { get; init; }

    /// <summary>The training recipe and its epochs in words: "adam lr 0.001, constant rate, batch 128; 3 epochs per trial, 15 final".</summary>
    public string DescribeTraining() =>
        $"{Training.Describe()}; {EpochsPerTrial} epoch{(EpochsPerTrial == 1 ? "" : "s")} per trial{(Strategy == ArchitectureStrategy.Halving && SmallestTrialEpochs < EpochsPerTrial ? $" (from {SmallestTrialEpochs} at the lowest rung)" : "")}"
        + (FinalEpochs > 0 ? $", {FinalEpochs} final" : "");

    /// <summary>The fewest epochs a candidate trains for: <see cref="EpochsPerTrial"/>, or successive halving's lowest rung.</summary>
    [JsonIgnore]
    internal int SmallestTrialEpochs => EpochsAt(Strategy == ArchitectureStrategy.Halving ? SuccessiveHalvingMinBudget : 1);

    /// <summary>The epochs a candidate trains for at <paramref name="budget"/> (a fraction of <see cref="EpochsPerTrial"/>; at least one).</summary>
    internal int EpochsAt(double budget) => Math.Max(1, (int)Math.Round(EpochsPerTrial * budget));

    /// <summary>Successive halving's lowest rung, as a fraction of <see cref="EpochsPerTrial"/>: one epoch, at most nine rungs below the top.</summary>
    [JsonIgnore]
    internal double SuccessiveHalvingMinBudget => 1.0 / Math.Min(9, EpochsPerTrial);

    /// <summary>The batch sizes latency is measured at.</summary>
    [JsonIgnore]
    public IReadOnlyList<int> LatencyBatches => LargeBatch == 1 ? [1] : [1, LargeBatch];

    /// <summary>Throws <see cref="OptionsException"/> naming the property that is wrong; returns the options.</summary>
    public ArchitectureSearchOptions Validate()
    {
        if (Trials < 1) throw OptionsException.For(nameof(Trials), $"must be at least 1, got {Trials}");
        if (EpochsPerTrial < 1) throw OptionsException.For(nameof(EpochsPerTrial), $"must be at least 1, got {EpochsPerTrial}");
        if (FinalEpochs < 0) throw OptionsException.For(nameof(FinalEpochs), $"must be 0 or more, got {FinalEpochs}");
        if (Workers < 1) throw OptionsException.For(nameof(Workers), $"must be at least 1, got {Workers}");
        if (LargeBatch < 1) throw OptionsException.For(nameof(LargeBatch), $"must be at least 1, got {LargeBatch}");
        if (LatencyThreads < 1) throw OptionsException.For(nameof(LatencyThreads), $"must be at least 1, got {LatencyThreads}");
        new Objective(Objectives, Constraints).Validate();
        if (Strategy == ArchitectureStrategy.Annealing && Objectives.Count > 1)
            throw OptionsException.For(nameof(Objectives), $"hold {Objectives.Count} goals, and annealing follows one; give one, or search with evolution, random or halving");
        ArchitectureMetrics.CheckConsistent(Constraints);
        var latencies = LatencyBatches.Select(ArchitectureMetrics.LatencyAt).ToHashSet();
        foreach (var metric in Objectives.Select(g => g.Metric).Concat(Constraints.Select(c => c.Metric)))
            if (metric.StartsWith("latency_", StringComparison.Ordinal) && !latencies.Contains(metric))
                throw OptionsException.For(nameof(LargeBatch), $"is {LargeBatch}, so {metric} is not measured; measure that batch size, or use {string.Join(" or ", latencies)}");
        foreach (var r in References) r.Validate();
        if (References.GroupBy(r => r.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw OptionsException.For(nameof(References), $"name {Text.Message.Name(twice.Key)} twice; give each reference once");
        (Training with { Epochs = SmallestTrialEpochs }).Validate();   // a warm-up must end within the shortest training
        if (FinalEpochs > 0) (Training with { Epochs = FinalEpochs }).Validate();
        Training.Hyper.Validate(Training.Optimizer);   // else every trial would fail on it, not the run
        Distillation.Validate();
        SearchRoles.Validate(Role, Storage, Artifacts);
        if (Role == SearchRole.Coordinator && Latency != LatencyMode.Measured)
            throw OptionsException.For(nameof(Latency), "must be measured with a coordinator: a latency table is one machine's, and its workers measure on theirs");
        return this;
    }

    /// <summary>The options a resumed run must share with the run it continues, by property (everything but the trial count, final epochs, workers and resume).</summary>
    internal Dictionary<string, string> Identity() => new(Training.RecipeIdentity().Concat(new Dictionary<string, string>
    {
        [nameof(Latency)] = Latency.ToString(),
        [nameof(Strategy)] = Strategy.ToString(), [nameof(EpochsPerTrial)] = Invariant($"{EpochsPerTrial}"), [nameof(Seed)] = Invariant($"{Seed}"),
        [nameof(Objectives)] = CanonicalJson.Of(new Objective(Objectives, Constraints).Describe()), [nameof(LargeBatch)] = Invariant($"{LargeBatch}"),
        [nameof(LatencyThreads)] = Invariant($"{LatencyThreads}"),
        [nameof(Distillation)] = Invariant($"T={Distillation.Temperature} alpha={Distillation.Alpha}"),
    }));

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
