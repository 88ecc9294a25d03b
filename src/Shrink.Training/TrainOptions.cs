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

    /// <summary>The recipe in words, without the epochs: "sgd lr 0.05 (momentum 0.9), weight decay 0.0005, cosine schedule, batch 128".</summary>
    public string Describe()
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        var parts = new List<string>
        {
            string.Format(c, "{0} lr {1:G}", Optimizer, Hyper.LearningRate)
                + (Optimizer == "sgd" && Hyper.Momentum > 0 ? string.Format(c, " ({0}momentum {1:G})", Hyper.Nesterov ? "Nesterov " : "", Hyper.Momentum) : ""),
        };
        if (Hyper.WeightDecay > 0) parts.Add(string.Format(c, "weight decay {0:G}", Hyper.WeightDecay));
        parts.Add(Schedule.Kind switch
        {
            "cosine" => "cosine schedule",
            "step" => string.Format(c, "step schedule (×{0:G} every {1})", Schedule.Gamma, Schedule.StepEpochs == 1 ? "epoch" : $"{Schedule.StepEpochs} epochs"),
            _ => "constant rate",
        } + (Schedule.WarmupEpochs > 0 ? string.Format(c, " after {0:G} warm-up epoch{1}", Schedule.WarmupEpochs, Schedule.WarmupEpochs == 1 ? "" : "s") : ""));
        if (LabelSmoothing > 0) parts.Add(string.Format(c, "label smoothing {0:G}", LabelSmoothing));
        parts.Add($"batch {BatchSize}");
        return string.Join(", ", parts);
    }

    /// <summary>
    /// The recipe by options-record property, without the epochs, seed and run directory: what every training of a search
    /// shares, so a resumed search refuses a difference naming the property (<c>LearningRate</c>, which the CLI prints as --lr).
    /// </summary>
    internal IReadOnlyDictionary<string, string> RecipeIdentity()
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        return new Dictionary<string, string>
        {
            [nameof(BatchSize)] = BatchSize.ToString(c), [nameof(Optimizer)] = Optimizer,
            [nameof(OptimizerOptions.LearningRate)] = Hyper.LearningRate.ToString("R", c), [nameof(OptimizerOptions.Momentum)] = Hyper.Momentum.ToString("R", c),
            [nameof(OptimizerOptions.Nesterov)] = Hyper.Nesterov.ToString(), [nameof(OptimizerOptions.WeightDecay)] = Hyper.WeightDecay.ToString("R", c),
            [nameof(OptimizerOptions.Beta1)] = Hyper.Beta1.ToString("R", c), [nameof(OptimizerOptions.Beta2)] = Hyper.Beta2.ToString("R", c),
            [nameof(OptimizerOptions.Epsilon)] = Hyper.Epsilon.ToString("R", c),
            [nameof(Schedule)] = Schedule.Kind, [nameof(LearningRateSchedule.StepEpochs)] = Schedule.StepEpochs.ToString(c),
            [nameof(LearningRateSchedule.Gamma)] = Schedule.Gamma.ToString("R", c), [nameof(LearningRateSchedule.WarmupEpochs)] = Schedule.WarmupEpochs.ToString("R", c),
            [nameof(LearningRateSchedule.MinFactor)] = Schedule.MinFactor.ToString("R", c),
            [nameof(LabelSmoothing)] = LabelSmoothing.ToString("R", c), [nameof(LabelLossWeight)] = LabelLossWeight.ToString("R", c),
        };
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
