using Shrink.Passes.Pruning;
using Shrink.Training.FineTuning;

namespace Shrink.Training.Pruning;

/// <summary>
/// Options of the <c>prune</c> technique (<see cref="Pruner.Run"/>): what goes (<see cref="Method"/>, with
/// <see cref="Sparsity"/>, an N:M <see cref="Pattern"/> or <see cref="LayerSparsity"/>), when
/// (<see cref="Schedule"/>), and the fine-tuning after each round (or, for AGP, during pruning; for slim, the
/// sparsity training before the cut also uses it). The defaults are <c>shrink prune</c>'s. A plain record of
/// enums, numbers and dictionaries, so recipes write and read it.
/// </summary>
public sealed record PruneOptions
{
    public PruneMethod Method { get; init; } = PruneMethod.Magnitude;

    /// <summary>Unstructured: the fraction of weights zeroed; structured: of each group's channels removed. Not needed with a pattern or per-layer sparsities.</summary>
    public double? Sparsity { get; init; }

    /// <summary>The pattern of <see cref="PruneMethod.NM"/> (2:4).</summary>
    public NmPattern? Pattern { get; init; }

    /// <summary>Each layer (structured: each channel group) at the sparsity, or one threshold over all (unstructured, or structured bn-scale and slim).</summary>
    public PruneScope Scope { get; init; } = PruneScope.Layer;

    /// <summary>Unstructured: only these layers, each at its own sparsity (the shape <c>shrink sensitivity</c> suggests).</summary>
    public IReadOnlyDictionary<string, double>? LayerSparsity { get; init; }

    /// <summary>Structured: each channel group's own fraction of channels removed, by group key (the producers' layer names joined by "+"); groups not named are pruned at <see cref="Sparsity"/> (0 when it is not given).</summary>
    public IReadOnlyDictionary<string, double>? GroupSparsity { get; init; }

    public PruneSchedule Schedule { get; init; } = PruneSchedule.Oneshot;

    /// <summary>Rounds of the iterative schedule.</summary>
    public int Steps { get; init; } = 3;

    /// <summary>Seed of random pruning.</summary>
    public int Seed { get; init; }

    /// <summary>Structured: kept channel counts are rounded up to a multiple of this (odd widths run slowly in ONNX Runtime).</summary>
    public int ChannelMultiple { get; init; } = 8;

    /// <summary>slim: epochs of sparsity training (L1 penalty on BatchNorm γ) before the cut.</summary>
    public int SlimEpochs { get; init; }

    /// <summary>slim: weight λ of the L1 penalty on γ.</summary>
    public double SlimPenalty { get; init; } = 1e-4;

    /// <summary>apoz, entropy: training samples the activations are measured on.</summary>
    public int ScoreSamples { get; init; } = 1024;

    /// <summary>Fine-tuning after each pruning round (0 epochs: none); with distillation settings, from the inputs' teacher.</summary>
    public FineTuneOptions FineTune { get; init; } = new();

    /// <summary>Pruning rounds: <see cref="Steps"/> when iterative, else 1.</summary>
    public int Rounds => Schedule == PruneSchedule.Iterative ? Steps : 1;

    /// <summary>The sparsity aimed at: the pattern's 1 − N/M, else <see cref="Sparsity"/> (0 when only per-layer sparsities are given).</summary>
    public double TargetSparsity => Method == PruneMethod.NM && Pattern is { } p ? p.Sparsity : Sparsity ?? 0;

    /// <summary>
    /// Checks the options against what the inputs hold (labelled data, a teacher); throws <see cref="OptionsException"/>
    /// naming the options property (<see cref="OptionsException.For"/>). Returns the options.
    /// </summary>
    public PruneOptions Validate(bool hasData, bool hasTeacher)
    {
        PruneChecks.FineTuning(this, hasData, hasTeacher);
        if (Method.IsStructured()) PruneChecks.Structured(this, hasData);
        else PruneChecks.Unstructured(this, hasData);
        return this;
    }

    /// <summary>The options of one round of unstructured pruning (before the schedule scales the sparsity).</summary>
    public UnstructuredPruneOptions Unstructured() => new()
    {
        Method = Method, Sparsity = Sparsity ?? 0, Pattern = Pattern, LayerSparsity = LayerSparsity, Seed = Seed, Scope = Scope,
    };

    /// <summary>The options of one round of structured pruning (before the schedule scales the sparsity).</summary>
    public StructuredPruneOptions Structured() => new()
    {
        Method = Method, Sparsity = Sparsity ?? 0, GroupSparsity = GroupSparsity, ChannelMultiple = ChannelMultiple, Scope = Scope,
        ChannelScores = Method.IsMeasured() ? new Dictionary<string, double[]>() : null,
    };
}

/// <summary>The checks of <see cref="PruneOptions.Validate"/>, in the order <c>shrink prune</c> makes them.</summary>
internal static class PruneChecks
{
    public static void FineTuning(PruneOptions o, bool hasData, bool hasTeacher)
    {
        var t = o.FineTune;
        if (t.Distillation is not null && !hasTeacher) throw new OptionsException("distillation while fine-tuning needs a teacher model in the inputs");
        t.Distillation?.Validate();
        if (t.Distillation is not null && t.Epochs < 1 && o.Method != PruneMethod.Slim && o.Schedule != PruneSchedule.Agp)
            throw OptionsException.For(nameof(FineTuneOptions.Epochs), "must be at least 1 to distill from a teacher while fine-tuning");
        if (t.Epochs < 0) throw OptionsException.For(nameof(FineTuneOptions.Epochs), $"must be 0 or more, got {t.Epochs}");
        if (t.Epochs > 0 && !hasData) throw OptionsException.For(nameof(FineTuneOptions.Epochs), "needs data: fine-tuning trains on it; without data pruning is data-free");
        if (t.Epochs > 0 && !(t.LearningRate > 0)) throw OptionsException.For(nameof(FineTuneOptions.LearningRate), $"must be positive, got {t.LearningRate}");
        if (t.Epochs > 0 && t.Batch < 1) throw OptionsException.For(nameof(FineTuneOptions.Batch), $"must be at least 1, got {t.Batch}");
    }

    public static void Unstructured(PruneOptions o, bool hasData)
    {
        if (o.Sparsity is null && o.LayerSparsity is null && o.Method != PruneMethod.NM)
            throw OptionsException.For(nameof(PruneOptions.Sparsity), "is required (or per-layer sparsities), e.g. 0.9");
        if (o.GroupSparsity is not null)
            throw OptionsException.For(nameof(PruneOptions.GroupSparsity), $"sets structured per-group fractions of channels; {o.Method.Name()} prunes weights (per layer: the layer sparsities)");
        o.Unstructured().Validate();
        if (o.Rounds < 1) throw OptionsException.For(nameof(PruneOptions.Steps), $"must be at least 1, got {o.Rounds}");
        if (o.Rounds > 1 && o.Method == PruneMethod.NM) throw OptionsException.For(nameof(PruneOptions.Pattern), $"{o.Pattern} prunes to a fixed pattern; use the oneshot schedule");
        if (o.Method == PruneMethod.Taylor && !hasData) throw OptionsException.For(nameof(PruneOptions.Method), "taylor measures |w·∂L/∂w| on data; give data");
        if (o.Schedule == PruneSchedule.Agp && (o.FineTune.Epochs < 1 || !hasData))
            throw OptionsException.For(nameof(PruneOptions.Schedule), "agp prunes while training; give data and at least 1 fine-tuning epoch");
        if (o.Schedule == PruneSchedule.Agp && o.Method != PruneMethod.Magnitude)
            throw OptionsException.For(nameof(PruneOptions.Method), $"{o.Method.Name()} is not available with the agp schedule, which prunes by magnitude as it trains");
    }

    public static void Structured(PruneOptions o, bool hasData)
    {
        var m = o.Method.Name();
        if (o.LayerSparsity is not null) throw OptionsException.For(nameof(PruneOptions.LayerSparsity), $"sets unstructured per-layer sparsities; {m} prunes every channel group at one sparsity");
        if (o.Schedule == PruneSchedule.Agp)
            throw OptionsException.For(nameof(PruneOptions.Schedule), $"agp is gradual magnitude pruning of weights; {m} runs oneshot or iterative (K rounds of cut and fine-tune)");
        if (o.Rounds < 1) throw OptionsException.For(nameof(PruneOptions.Steps), $"must be at least 1, got {o.Rounds}");
        if (o.Rounds > 1 && (o.FineTune.Epochs < 1 || !hasData))
            throw OptionsException.For(nameof(PruneOptions.Schedule), "iterative fine-tunes after every round; give data and at least 1 fine-tuning epoch");
        if (o.Sparsity is null && o.GroupSparsity is null) throw OptionsException.For(nameof(PruneOptions.Sparsity), "is required (or per-group fractions): the fraction of each group's channels to remove, e.g. 0.5");
        if (o.Method.IsMeasured() && !hasData) throw OptionsException.For(nameof(PruneOptions.Method), $"{m} measures channels on data; give data");
        if (o.Method == PruneMethod.Slim && (o.SlimEpochs < 1 || !hasData))
            throw OptionsException.For(nameof(PruneOptions.SlimEpochs), "must be at least 1 with slim, which trains with an L1 penalty on BatchNorm γ (on labelled data) before the cut; or use bn-scale to cut by |γ| as it is");
        if (o.Method != PruneMethod.Slim && o.SlimEpochs != 0) throw OptionsException.For(nameof(PruneOptions.SlimEpochs), $"belongs to the slim method, not {m}");
        if (o.ScoreSamples < 1) throw OptionsException.For(nameof(PruneOptions.ScoreSamples), $"must be at least 1, got {o.ScoreSamples}");
        o.Structured().Validate();
        if (o.Method == PruneMethod.Slim && !(o.SlimPenalty > 0 && o.SlimPenalty < 1))
            throw OptionsException.For(nameof(PruneOptions.SlimPenalty), $"must be in (0, 1), got {o.SlimPenalty}");
    }
}
