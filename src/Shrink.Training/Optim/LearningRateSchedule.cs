namespace Shrink.Training.Optim;

/// <summary>
/// The learning rate as a function of training progress: constant, step decay or cosine annealing,
/// each optionally after a linear warm-up. Progress is measured in optimizer steps, so a resumed run
/// gets exactly the rates of an uninterrupted one.
/// </summary>
public sealed record LearningRateSchedule
{
    /// <summary>none, step or cosine.</summary>
    public string Kind { get; init; } = "none";

    /// <summary>Step decay: multiply by <see cref="Gamma"/> every this many epochs.</summary>
    public int StepEpochs { get; init; } = 10;

    /// <summary>Step decay factor.</summary>
    public double Gamma { get; init; } = 0.1;

    /// <summary>Linear warm-up length in epochs (may be fractional).</summary>
    public double WarmupEpochs { get; init; }

    /// <summary>Cosine: the rate reached at the end, as a fraction of the base rate.</summary>
    public double MinFactor { get; init; }

    /// <summary>Checks the values; a bad one raises <see cref="OptionsException"/>.</summary>
    public LearningRateSchedule Validate(int epochs)
    {
        if (Kind is not ("none" or "step" or "cosine")) throw new OptionsException($"unknown learning-rate schedule '{Kind}'; choose none, step or cosine");
        if (StepEpochs < 1) throw OptionsException.For(nameof(StepEpochs), $"must be at least 1, got {StepEpochs}");
        if (Gamma is <= 0 or > 1) throw OptionsException.For(nameof(Gamma), $"must be in (0, 1], got {Gamma}");
        if (WarmupEpochs < 0 || WarmupEpochs >= Math.Max(1, epochs)) throw OptionsException.For(nameof(WarmupEpochs), $"must be in [0, epochs), got {WarmupEpochs}");
        if (MinFactor is < 0 or > 1) throw new OptionsException($"the cosine floor must be in [0, 1], got {MinFactor}");
        return this;
    }

    /// <summary>The rate for optimizer step <paramref name="step"/> (0-based) of a run of <paramref name="epochs"/> epochs.</summary>
    public double RateAt(double baseRate, long step, int stepsPerEpoch, int epochs)
    {
        var warmupSteps = (long)Math.Round(WarmupEpochs * stepsPerEpoch);
        if (step < warmupSteps) return baseRate * (step + 1) / warmupSteps;
        var epoch = step / stepsPerEpoch;
        return Kind switch
        {
            "step" => baseRate * Math.Pow(Gamma, epoch / StepEpochs),
            "cosine" => Cosine(baseRate, step - warmupSteps, (long)epochs * stepsPerEpoch - warmupSteps),
            _ => baseRate,
        };
    }

    private double Cosine(double baseRate, long t, long total)
    {
        var floor = baseRate * MinFactor;
        var progress = total <= 0 ? 1 : Math.Min(1.0, (double)t / total);
        return floor + 0.5 * (baseRate - floor) * (1 + Math.Cos(Math.PI * progress));
    }
}
