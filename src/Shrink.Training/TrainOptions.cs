using Shrink.Training.Optim;

namespace Shrink.Training;

/// <summary>How to train: epochs, batch, optimizer, schedule, seed, where checkpoints go.</summary>
public sealed record TrainOptions
{
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 128;
    public int Seed { get; init; }

    /// <summary>sgd, adam or adamw.</summary>
    public string Optimizer { get; init; } = "sgd";
    public OptimizerOptions Hyper { get; init; } = new();
    public LearningRateSchedule Schedule { get; init; } = new();

    /// <summary>Label smoothing of the cross-entropy loss, in [0, 1).</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>
    /// Weight of the cross-entropy with the labels in the loss (1 − α in distillation, where hooks add
    /// the teacher's terms), in [0, 1].
    /// </summary>
    public double LabelLossWeight { get; init; } = 1;

    /// <summary>Where checkpoints and metrics go; null trains without checkpoints.</summary>
    public string? RunDirectory { get; init; }

    /// <summary>Continue from the checkpoint in <see cref="RunDirectory"/>.</summary>
    public bool Resume { get; init; }

    /// <summary>Evaluate on the test set after each epoch.</summary>
    public bool EvaluateEachEpoch { get; init; } = true;

    /// <summary>Batch size for evaluation.</summary>
    public int EvalBatchSize { get; init; } = 1000;

    /// <summary>Checks ranges; a bad value raises <see cref="OptionsException"/> naming the option.</summary>
    public TrainOptions Validate()
    {
        if (Epochs < 1) throw OptionsException.For(nameof(Epochs), $"must be at least 1, got {Epochs}");
        if (BatchSize < 1) throw OptionsException.For(nameof(BatchSize), $"must be at least 1, got {BatchSize}");
        if (EvalBatchSize < 1) throw new OptionsException($"the evaluation batch must be at least 1, got {EvalBatchSize}");
        if (LabelSmoothing is < 0 or >= 1) throw OptionsException.For(nameof(LabelSmoothing), $"must be in [0, 1), got {LabelSmoothing}");
        if (!(LabelLossWeight >= 0 && LabelLossWeight <= 1)) throw new OptionsException($"the weight of the label loss must be in [0, 1], got {LabelLossWeight}");
        if (Resume && RunDirectory is null) throw new OptionsException("resuming needs a run directory (the directory of the run to continue)");
        if (Optimizer is not ("sgd" or "adam" or "adamw")) throw new OptionsException($"unknown optimizer '{Optimizer}'; choose sgd, adam or adamw");
        Schedule.Validate(Epochs);
        return this;
    }

    /// <summary>The options that decide the trained weights (what a resumed run must share).</summary>
    internal IReadOnlyDictionary<string, string> Fingerprint() => new SortedDictionary<string, string>
    {
        ["epochs"] = Epochs.ToString(),
        ["batch"] = BatchSize.ToString(),
        ["seed"] = Seed.ToString(),
        ["optimizer"] = Optimizer,
        ["lr"] = Hyper.LearningRate.ToString("R"),
        ["momentum"] = Hyper.Momentum.ToString("R"),
        ["nesterov"] = Hyper.Nesterov.ToString(),
        ["weight-decay"] = Hyper.WeightDecay.ToString("R"),
        ["betas"] = $"{Hyper.Beta1:R},{Hyper.Beta2:R}",
        ["schedule"] = $"{Schedule.Kind} step={Schedule.StepEpochs} gamma={Schedule.Gamma:R} warmup={Schedule.WarmupEpochs:R} floor={Schedule.MinFactor:R}",
        ["label-smoothing"] = LabelSmoothing.ToString("R"),
        ["label-loss-weight"] = LabelLossWeight.ToString("R"),
    };
}
