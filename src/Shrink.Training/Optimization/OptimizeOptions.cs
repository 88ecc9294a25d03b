using System.Text.Json.Serialization;
using Shrink.Search;

namespace Shrink.Training.Optimization;

/// <summary>What <see cref="Optimizer"/> makes smaller or faster.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OptimizeGoal>))]
public enum OptimizeGoal
{
    /// <summary>The fewest bytes (<see cref="TrialMetrics.Bytes"/>, <see cref="TrialSize"/>): a clustered model's <c>.shrink</c> container, else the parameter bytes with sparse float tensors in Deep Compression's relative-index form.</summary>
    Size,
    /// <summary>The lowest ONNX Runtime latency at the largest of <see cref="OptimizeOptions.LatencyBatches"/>, only changes measured faster at every batch size.</summary>
    Latency,
    /// <summary>Both: a Pareto front of size and latency; the best is its earliest trial.</summary>
    Both,
}

/// <summary>How <see cref="Optimizer"/> proposes configurations (the strategies of <c>Shrink.Search</c>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OptimizeStrategy>))]
public enum OptimizeStrategy
{
    /// <summary>Regularized evolution (aging tournament of 3 in a population of 10, one-parameter mutations).</summary>
    Evolution,
    /// <summary>Independent random configurations.</summary>
    Random,
    /// <summary>Simulated annealing from the best configuration so far.</summary>
    Annealing,
    /// <summary>
    /// Successive halving (asynchronous, <see cref="SuccessiveHalving"/>) over random configurations: new ones are tried on
    /// a share of the fine-tuning data and of the test samples (<see cref="OptimizeOptions.HalvingBudgets"/>), the best
    /// 1/<see cref="OptimizeOptions.HalvingEta"/> of each rung tried again on the next, larger share. Only trials at the
    /// full budget can be chosen and enter the Pareto fronts.
    /// </summary>
    Halving,
}

/// <summary>A technique the space of <see cref="Optimizer"/> may use (<see cref="OptimizeOptions.Techniques"/>; on the command line in lower case).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<CompressionTechnique>))]
public enum CompressionTechnique
{
    /// <summary>Magnitude pruning of weights, a sparsity per layer.</summary>
    Unstructured,
    /// <summary>L1 filter pruning: channels cut out of the graph, one ratio or one per channel group.</summary>
    Structured,
    /// <summary>Truncated SVD of the layers (low rank by kept energy).</summary>
    Factorize,
    /// <summary>Static, mixed (int8/int4/float per layer) and dynamic int8 quantization.</summary>
    Quantize,
    /// <summary>Weight sharing (k-means per layer) stored as a Deep Compression container (size goals only).</summary>
    Cluster,
    /// <summary>
    /// Layer merging without training (<c>merge</c>): consecutive linear layers into one, parallel ones into one wider layer
    /// (latency goals, kept only where measured faster), near-identical weights shared (size goals); searched only where the
    /// original has something to merge.
    /// </summary>
    Merge,
    /// <summary>Half precision (<c>convert-precision</c>): float16 or bfloat16 storage (size goals), float16 compute (latency goals).</summary>
    Half,
}

/// <summary>
/// Options of <see cref="Optimizer.Run"/> (<c>shrink optimize</c>; the defaults are the command's): the goal, the
/// accuracy budget (<see cref="MaxAccuracyDrop"/> in points on labelled data, or <see cref="MinFidelity"/>, the top-1
/// agreement with the original model, on any data), the search budget (<see cref="Trials"/> and/or
/// <see cref="WallTime"/>), how trials run and what the space may use.
/// </summary>
public sealed record OptimizeOptions
{
    public OptimizeGoal Goal { get; init; } = OptimizeGoal.Size;

    /// <summary>The most accuracy a candidate may lose, in percentage points (0.5: from 91.0 % to 90.5 %), on the full test split.</summary>
    public double? MaxAccuracyDrop { get; init; }

    /// <summary>Instead of an accuracy budget: the least top-1 agreement with the original model, in (0, 1] (no labels needed).</summary>
    public double? MinFidelity { get; init; }

    /// <summary>A candidate is accepted only when the upper end of its 95 % interval of the drop (or the lower end of fidelity's) is within the budget.</summary>
    public bool Strict { get; init; }

    /// <summary>Trials of the whole run, resumes included (null: no limit; then <see cref="WallTime"/> is needed).</summary>
    public int? Trials { get; init; }

    /// <summary>This run's time (null: no limit; then <see cref="Trials"/> is needed).</summary>
    public TimeSpan? WallTime { get; init; }

    /// <summary>Trials run at once; the machine's threads are split between them.</summary>
    public int Workers { get; init; } = 1;

    /// <summary>The threads of the machine given to the trials (0: one per core).</summary>
    public int Threads { get; init; }

    public int Seed { get; init; }

    public OptimizeStrategy Strategy { get; init; } = OptimizeStrategy.Evolution;

    /// <summary>Batch sizes of the ONNX Runtime latency measurements (interleaved, noise-aware: faster only when the interquartile ranges are apart).</summary>
    public IReadOnlyList<int> LatencyBatches { get; init; } = [1, 256];

    /// <summary>The most fine-tuning epochs a trial may choose (each fine-tuning distills from the teacher, else from the original model).</summary>
    public int MaxEpochs { get; init; } = 2;

    /// <summary>The techniques the space may use (null: every one); e.g. [Quantize] for the best that quantization alone reaches.</summary>
    public IReadOnlyList<CompressionTechnique>? Techniques { get; init; }

    /// <summary>True when <see cref="Techniques"/> allows <paramref name="technique"/>.</summary>
    public bool Uses(CompressionTechnique technique) => Techniques is null || Techniques.Contains(technique);

    /// <summary>Bootstrap resamples of the per-sample scores (the interval is seeded by <see cref="Seed"/>).</summary>
    public int Resamples { get; init; } = 1000;

    /// <summary>Successive halving's η: each rung keeps its best 1/η and tries them on η times the budget (<see cref="OptimizeStrategy.Halving"/> only).</summary>
    public int HalvingEta { get; init; } = 3;

    /// <summary>Successive halving's number of budgets: η^−(rungs−1), …, 1/η, 1 (3 with η = 3: 1/9, 1/3 and the full budget).</summary>
    public int HalvingRungs { get; init; } = 3;

    /// <summary>The budgets of successive halving's rungs, smallest first (the last is 1, the full evaluation).</summary>
    [JsonIgnore]
    public IReadOnlyList<double> HalvingBudgets => Enumerable.Range(0, HalvingRungs).Select(k => Math.Pow(HalvingEta, k - (HalvingRungs - 1))).ToList();

    /// <summary>
    /// The fewest trials in which successive halving brings one configuration to the full budget: the starting trials
    /// (<see cref="StartingTrials"/>, at the full budget), then η^(rungs−1) trials on the first rung, …, η on the last but
    /// one, and 1 on the last.
    /// </summary>
    [JsonIgnore]
    public int HalvingMinTrials => StartingTrials + Enumerable.Range(0, HalvingRungs).Sum(k => (int)Math.Pow(HalvingEta, k));

    /// <summary>
    /// The trials a new run enqueues before its strategy proposes any (<see cref="CompressionSpace"/>'s starting points):
    /// static int8 of every layer when quantization is searched, and for a size goal with unstructured pruning and weight
    /// sharing also Deep Compression's pipeline.
    /// </summary>
    [JsonIgnore]
    public int StartingTrials => (Uses(CompressionTechnique.Quantize) ? 1 : 0)
        + (Uses(CompressionTechnique.Unstructured) && Uses(CompressionTechnique.Cluster) && Goal != OptimizeGoal.Latency ? 1 : 0);

    /// <summary>
    /// The trial store, as <see cref="TrialStorage"/> reads it (<c>postgresql://…</c>: a server other runs and machines share;
    /// <c>sqlite:PATH</c>), instead of the run directory's <c>trials.db</c> (null). Not part of what a resume must share.
    /// </summary>
    public string? Storage { get; init; }

    /// <summary>
    /// <see cref="SearchRole.Both"/>: trials are evaluated here. <see cref="SearchRole.Coordinator"/> (needs <see cref="Storage"/>
    /// and <see cref="Artifacts"/>): trials are only proposed, for <c>shrink worker</c>s elsewhere (<see cref="OptimizeJob"/>).
    /// Not part of what a resume must share.
    /// </summary>
    public SearchRole Role { get; init; }

    /// <summary>The shared artifacts directory of a coordinator (<see cref="ArtifactStore"/>): the model, the data, every trial's files.</summary>
    public string? Artifacts { get; init; }

    /// <summary>The study's name in the store (null: the command's name, "optimize"); a shared store holds many.</summary>
    public string? StudyName { get; init; }

    /// <summary>
    /// A deployment choice, not a size or latency gain: at the end, cut the chosen model as the <c>split</c> technique does
    /// (<see cref="Passes.Deployment.SplitOptions"/>: parts under a weight or memory bound, or K parts) into
    /// <c>DIR/best.parts/</c> (<c>part-NN.onnx</c> and <c>manifest.json</c>, run by <c>shrink run</c>). Null: not split.
    /// Not part of what a resume must share.
    /// </summary>
    public Passes.Deployment.SplitOptions? Split { get; init; }

    /// <summary>Continue the run in the directory (same options) instead of starting one.</summary>
    public bool Resume { get; init; }

    /// <summary>True with <see cref="MinFidelity"/>: acceptance by agreement with the original model instead of accuracy.</summary>
    [JsonIgnore]
    public bool ByFidelity => MinFidelity is not null;

    /// <summary>Throws <see cref="OptionsException"/> naming the property that is wrong; returns the options.</summary>
    public OptimizeOptions Validate()
    {
        if (MaxAccuracyDrop is not null && MinFidelity is not null)
            throw OptionsException.For(nameof(MinFidelity), "and the maximum accuracy drop are both given; give one budget");
        if (MaxAccuracyDrop is null && MinFidelity is null)
            throw OptionsException.For(nameof(MaxAccuracyDrop), "is needed (or a minimum fidelity): the accuracy budget every candidate must keep");
        if (MaxAccuracyDrop is { } d && !(d >= 0 && d <= 100)) throw OptionsException.For(nameof(MaxAccuracyDrop), $"is in points, in [0, 100]; got {d}");
        if (MinFidelity is { } f && !(f > 0 && f <= 1)) throw OptionsException.For(nameof(MinFidelity), $"is a top-1 agreement, in (0, 1]; got {f}");
        if (Trials is null && WallTime is null) throw OptionsException.For(nameof(Trials), "and the wall time are both unset; give a number of trials or a time budget");
        if (Trials < 1) throw OptionsException.For(nameof(Trials), $"must be at least 1, got {Trials}");
        if (WallTime <= TimeSpan.Zero) throw OptionsException.For(nameof(WallTime), $"must be above 0, got {WallTime}");
        if (Workers < 1) throw OptionsException.For(nameof(Workers), $"must be at least 1, got {Workers}");
        if (Threads < 0) throw OptionsException.For(nameof(Threads), $"must be 0 (one per core) or more, got {Threads}");
        if (LatencyBatches.Count == 0 || LatencyBatches.Any(b => b < 1))
            throw OptionsException.For(nameof(LatencyBatches), $"must be one or more batch sizes of at least 1, got [{string.Join(", ", LatencyBatches)}]");
        if (MaxEpochs < 0) throw OptionsException.For(nameof(MaxEpochs), $"must be 0 or more, got {MaxEpochs}");
        if (Techniques is { Count: 0 }) throw OptionsException.For(nameof(Techniques), "is empty; name at least one technique, or leave it unset for every one");
        if (Techniques is { } t && t.Distinct().Count() != t.Count) throw OptionsException.For(nameof(Techniques), $"names a technique twice ({string.Join(", ", t.Select(x => x.ToString().ToLowerInvariant()))}); give each once");
        if (Goal != OptimizeGoal.Size && Techniques is [CompressionTechnique.Cluster])
            throw OptionsException.For(nameof(Techniques), "holds only cluster, which is searched for the size goal alone (shared weights run at float speed); add another technique or use the size goal");
        if (Resamples < 100) throw OptionsException.For(nameof(Resamples), $"must be at least 100, got {Resamples}");
        if (Strategy == OptimizeStrategy.Halving) ValidateHalving();
        SearchRoles.Validate(Role, Storage, Artifacts);
        Split?.Validate();
        return this;
    }

    private string Starts() => StartingTrials switch { 0 => "no starting trial", 1 => "the starting trial", var k => $"the {k} starting trials" };

    private void ValidateHalving()
    {
        if (HalvingEta is < 2 or > 10) throw OptionsException.For(nameof(HalvingEta), $"must be in [2, 10] (each rung keeps its best 1/η), got {HalvingEta}");
        if (HalvingRungs is < 2 or > 5) throw OptionsException.For(nameof(HalvingRungs), $"must be in [2, 5] (the smallest budget is η^−(rungs−1)), got {HalvingRungs}");
        if (Trials is { } n && n < HalvingMinTrials)
        {
            var budgets = HalvingBudgets;
            var rungs = string.Join(", ", Enumerable.Range(0, HalvingRungs - 1).Select(k => $"{(int)Math.Pow(HalvingEta, HalvingRungs - 1 - k)} at budget {Share(budgets[k])}"));
            throw OptionsException.For(nameof(Trials), $"must be at least {HalvingMinTrials} with successive halving, got {n}: {Starts()}, then {rungs} and 1 at the full budget before a configuration reaches it; give more trials, fewer rungs or another strategy");
        }
    }

    /// <summary>A budget as a fraction: "1/9".</summary>
    internal static string Share(double budget) => budget >= 1 ? "1" : Invariant($"1/{Math.Round(1 / budget):0}");

    /// <summary>The budget as a user wrote it: "accuracy drop ≤ 0.5 points" or "fidelity ≥ 0.99" (strict: of the interval's far end).</summary>
    [JsonIgnore]
    public string BudgetText => (ByFidelity ? $"fidelity ≥ {MinFidelity:G}" : $"accuracy drop ≤ {MaxAccuracyDrop:G} points") + (Strict ? " (strict: the 95 % interval's far end)" : "");

    /// <summary>The options a resumed run must share with the run it continues, by property name (everything but the search budget, workers, threads and resume).</summary>
    internal IReadOnlyDictionary<string, string> Identity()
    {
        var identity = new Dictionary<string, string>
        {
            [nameof(Goal)] = Goal.ToString(), [nameof(MaxAccuracyDrop)] = Invariant($"{MaxAccuracyDrop}"), [nameof(MinFidelity)] = Invariant($"{MinFidelity}"),
            [nameof(Strict)] = Invariant($"{Strict}"), [nameof(Seed)] = Invariant($"{Seed}"), [nameof(Strategy)] = Strategy.ToString(),
            [nameof(LatencyBatches)] = string.Join(",", LatencyBatches.Select(b => Invariant($"{b}"))), [nameof(MaxEpochs)] = Invariant($"{MaxEpochs}"),
            [nameof(Resamples)] = Invariant($"{Resamples}"),
            [nameof(Techniques)] = Techniques is null ? "all" : string.Join(",", Techniques.Order().Select(t => t.ToString().ToLowerInvariant())),
        };
        if (Strategy != OptimizeStrategy.Halving) return identity;
        identity[nameof(HalvingEta)] = Invariant($"{HalvingEta}");
        identity[nameof(HalvingRungs)] = Invariant($"{HalvingRungs}");
        return identity;
    }

    private static string Invariant(FormattableString s) => FormattableString.Invariant(s);
}
