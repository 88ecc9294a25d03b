using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Onnx;
using Shrink.Recipes;
using Shrink.Search;
using Shrink.Techniques;

namespace Shrink.Training.Optimization;

/// <summary>
/// What every trial of one optimize run shares: the run directory and its files, the options, the original model, the
/// data, the teacher, and the original's per-sample predictions the acceptance test compares against.
/// </summary>
internal sealed class OptimizeRun
{
    public required string Directory { get; init; }
    public required OptimizeOptions Options { get; init; }
    public required RecipeModel Model { get; init; }
    /// <summary>The data with the teacher every fine-tuning distills from (the given one, else the original model).</summary>
    public required RecipeData Data { get; init; }
    public required IDataSource Test { get; init; }
    public required SamplePredictions Baseline { get; init; }
    public required TechniqueSession Session { get; init; }
    /// <summary>The inputs the recipes' stages get (data loaded once), for measurements before the search.</summary>
    public required TechniqueInputs Inputs { get; init; }

    /// <summary>Layers every trial keeps in float: for the latency goals, those whose int8 kernel was measured slower (<see cref="LayerLatency"/>).</summary>
    public IReadOnlySet<string> FloatLayers { get; set; } = new HashSet<string>();

    /// <summary>What <c>merge</c> = on runs in every trial (<see cref="MergeProbe"/>), or null when merging is not searched.</summary>
    public Passes.Merging.MergeOptions? Merging { get; set; }

    public string OriginalPath => Model.Path!;

    /// <summary>
    /// What the trials of a run on <paramref name="model"/> and <paramref name="data"/> share, loaded (the data, the original's
    /// predictions on the test split); nothing is written. The coordinator of a run and each of its workers make it alike.
    /// </summary>
    public static OptimizeRun Load(RecipeModel model, RecipeData data, OptimizeOptions options, string directory, TechniqueSession session)
    {
        var inputs = RecipeInputs.Load(new Recipe { Model = model, Data = data }, OnnxReader.Read(model.Path!));
        var test = (inputs.Data ?? throw OptionsException.For(nameof(RecipeData), "holds no data; optimize fine-tunes on the training split and accepts on the test split")).Test;
        if (!options.ByFidelity && test.ClassCount is null)
            throw OptionsException.For(nameof(OptimizeOptions.MaxAccuracyDrop), $"needs labelled data, and {test.Name} has no labels; give a minimum fidelity (agreement with the original) instead");
        return new OptimizeRun
        {
            Directory = directory, Options = options, Model = model, Data = data with { Teacher = data.Teacher ?? model.Path }, Test = test,
            Baseline = SamplePredictions.Of(model.Path!, test), Session = session, Inputs = inputs,
        };
    }

    /// <summary>The goals and constraints trials are ranked by.</summary>
    public Objective Objective => Options.Goal switch
    {
        OptimizeGoal.Latency => Objective.Minimize(TrialMetrics.Latency, Within, new Constraint(TrialMetrics.NotFaster, Bound.AtMost, 0)),
        OptimizeGoal.Both => new Objective([new Goal(TrialMetrics.Bytes, Direction.Minimize), new Goal(TrialMetrics.Latency, Direction.Minimize)], [Within]),
        _ => Objective.Minimize(TrialMetrics.Bytes, Within),
    };

    private static Constraint Within => new(TrialMetrics.Excess, Bound.AtMost, 0);

    /// <summary>The directory of trial <paramref name="number"/> (0-based in the store, counted from 1 in files and lines): <c>DIR/trials/0007</c> for number 6.</summary>
    public string TrialDirectory(int number) => Path.Combine(Directory, "trials", (number + 1).ToString("D4", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>
    /// The recipe of configuration <paramref name="c"/> at <paramref name="budget"/> (successive halving's share of the full
    /// evaluation): below 1, its fine-tuning and calibration see only the first ⌈budget · n⌉ of the n training samples.
    /// At 1 it is the recipe <c>best.recipe.yaml</c> holds.
    /// </summary>
    public Recipe RecipeOf(Configuration c, double budget = 1)
    {
        var data = budget >= 1 ? Data : Data with { TrainLimit = Share(budget, Inputs.Data!.Train.Count) };
        return CompressionPlan.Recipe(c, Model, data, new RecipeRuntime(), Options.Seed, FloatLayers, Merging);
    }

    /// <summary>The test samples a trial at <paramref name="budget"/> is accepted on: the first ⌈budget · n⌉ of the test split.</summary>
    public IDataSource TestAt(double budget) => budget >= 1 ? Test : Test.Take(Share(budget, Test.Count));

    /// <summary>⌈<paramref name="budget"/> · <paramref name="count"/>⌉, at least 1.</summary>
    public static int Share(double budget, int count) => Math.Clamp((int)Math.Ceiling(budget * count - 1e-9), 1, count);

    /// <summary>
    /// The acceptance metrics of <paramref name="candidate"/> (on the first samples of the test split: all of them, or a
    /// trial's share, <see cref="TestAt"/>): accuracy and its drop in points (or the agreement with the
    /// original), each with its paired 95 % bootstrap interval, and how far the budget is exceeded (strict: by the interval's far end).
    /// </summary>
    public Dictionary<string, double> Acceptance(SamplePredictions candidate)
    {
        var baseline = candidate.Predicted.Length == Baseline.Predicted.Length ? Baseline
            : new SamplePredictions(Baseline.Predicted[..candidate.Predicted.Length], Baseline.Labels?[..candidate.Predicted.Length]);
        if (Options.MinFidelity is { } min)
        {
            var f = Bootstrap.Mean(candidate.Agrees(baseline), Options.Resamples, Options.Seed);
            return new()
            {
                [TrialMetrics.Fidelity] = f.Estimate, [TrialMetrics.FidelityLow] = f.Low, [TrialMetrics.FidelityHigh] = f.High,
                [TrialMetrics.Excess] = min - (Options.Strict ? f.Low : f.Estimate),
            };
        }
        var correct = candidate.Correct();
        var d = Bootstrap.Difference(baseline.Correct(), correct, Options.Resamples, Options.Seed);
        return new()
        {
            [TrialMetrics.Accuracy] = 100.0 * correct.Count(x => x) / correct.Length,
            [TrialMetrics.Drop] = 100 * d.Estimate, [TrialMetrics.DropLow] = 100 * d.Low, [TrialMetrics.DropHigh] = 100 * d.High,
            [TrialMetrics.Excess] = 100 * (Options.Strict ? d.High : d.Estimate) - Options.MaxAccuracyDrop!.Value,
        };
    }
}
