using Shrink.Ir;
using Shrink.Passes.Pruning;
using Shrink.Techniques;
using Shrink.Training.Distillation;
using Shrink.Training.Pruning;

namespace Shrink.Training.FineTuning;

/// <summary>
/// The options of the <c>fine-tune</c> technique: the fine-tuning every compression technique shares (SGD momentum 0.9,
/// cosine schedule; see <see cref="FineTuneOptions"/>) as a stage of its own, by default keeping every zero weight at
/// zero so that a pruned model stays pruned.
/// </summary>
public sealed record FineTuneTechniqueOptions
{
    public int Epochs { get; init; } = 1;
    public double LearningRate { get; init; } = 0.01;
    public int Batch { get; init; } = 128;
    public int Seed { get; init; }

    /// <summary>How to distill from the inputs' teacher; null trains on the labels only.</summary>
    public DistillationOptions? Distillation { get; init; }

    /// <summary>Keep the weights that are zero at zero (masks taken from the model's zeros, as <see cref="MaskHook"/> applies them).</summary>
    public bool KeepZeros { get; init; } = true;

    internal FineTuneOptions Training => new() { Epochs = Epochs, LearningRate = LearningRate, Batch = Batch, Seed = Seed, Distillation = Distillation };
}

/// <summary>
/// <c>fine-tune</c>: trains a copy of the model on the inputs' labelled data with <see cref="FineTuner.Run"/> (its run
/// directory and resume come from the session), optionally distilling from the inputs' teacher. Needs data and training;
/// keeps the model's shapes.
/// </summary>
public sealed class FineTuneTechnique : Technique<FineTuneTechniqueOptions>
{
    public override string Id => "fine-tune";

    public override string Summary => "fine-tune on the labelled data (SGD, cosine), keeping zero weights at zero";

    public override IReadOnlyList<string> Check(Model model, FineTuneTechniqueOptions options, TechniqueInputs inputs)
    {
        Validate(options, inputs);
        return Array.Empty<string>();
    }

    public override TechniqueResult Run(Model model, FineTuneTechniqueOptions options, TechniqueInputs inputs, TechniqueSession session)
    {
        Validate(options, inputs);
        var masks = options.KeepZeros ? PruningMasks.FromZeros(model) : null;
        var hooks = masks is { Keep.Count: > 0 } ? executor => new ITrainingHook[] { new MaskHook(executor, masks) } : (Func<Execution.GraphExecutor, IReadOnlyList<ITrainingHook>>?)null;
        var result = FineTuner.Run(model, options.Training, inputs.WithOriginal(model), session, "fine-tune", hooks);
        var notes = new List<string> { $"fine-tuned {options.Epochs} epoch(s): " + (double.IsNaN(result.TestAccuracy) ? "no labels, distilled from the original" : $"executor test accuracy {result.TestAccuracy:P2}") };
        if (masks is { Keep.Count: > 0 }) notes.Add($"kept the zeros of {masks.Keep.Count} weight tensor(s) at zero");
        return new TechniqueResult(result.Model, Array.Empty<IArtifact>(), notes);
    }

    private static void Validate(FineTuneTechniqueOptions options, TechniqueInputs inputs)
    {
        if (options.Epochs < 1) throw OptionsException.For(nameof(options.Epochs), $"must be at least 1, got {options.Epochs}");
        inputs.RequireData("fine-tune");
        options.Training.CheckOptional(hasData: true, hasTeacher: inputs.Teacher is not null);
    }
}
