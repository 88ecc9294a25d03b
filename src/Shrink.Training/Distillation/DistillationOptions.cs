namespace Shrink.Training.Distillation;

/// <summary>One intermediate tensor of the teacher paired with one of the student.</summary>
public sealed record TensorPair(string Teacher, string Student)
{
    /// <summary>Parses TEACHER_TENSOR:STUDENT_TENSOR (the last colon splits, so tensor names may hold colons).</summary>
    public static TensorPair Parse(string option, string text)
    {
        var i = text.LastIndexOf(':');
        if (i <= 0 || i == text.Length - 1)
            throw new OptionsException($"{option} '{text}' is not TEACHER_TENSOR:STUDENT_TENSOR (names of node outputs in each model)");
        return new TensorPair(text[..i], text[(i + 1)..]);
    }

    public override string ToString() => $"{Teacher}:{Student}";
}

/// <summary>
/// Knowledge distillation settings. The loss is α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1 − α)·CE(z_s, y)
/// (Hinton et al. 2015), plus β·MSE(adapter(student feature), teacher feature) per hint (FitNets,
/// Romero et al. 2015) and γ/2·mean((a_s − a_t)²) per attention pair, where a is the L2-normalised map of
/// channel-mean squared activations (attention transfer, Zagoruyko and Komodakis 2017).
/// </summary>
public sealed record DistillationOptions
{
    public double Temperature { get; init; } = 4;

    /// <summary>Weight of the soft-target term; the labels get 1 − α.</summary>
    public double Alpha { get; init; } = 0.9;

    public IReadOnlyList<TensorPair> Hints { get; init; } = Array.Empty<TensorPair>();
    public double HintWeight { get; init; } = 1;
    public IReadOnlyList<TensorPair> Attention { get; init; } = Array.Empty<TensorPair>();

    /// <summary>γ of the attention term γ/2·mean((a_s − a_t)²); 1000 is the β of the paper's code.</summary>
    public double AttentionWeight { get; init; } = 1000;

    /// <summary>
    /// Compute the teacher's logits for the whole training set once (ONNX Runtime) and read them by
    /// sample index; valid because the training batches are not augmented. Hints and attention need the
    /// teacher's features at every step, so the teacher then runs live.
    /// </summary>
    public bool CacheLogits { get; init; } = true;

    public DistillationOptions Validate()
    {
        if (!(Temperature > 0) || double.IsInfinity(Temperature)) throw OptionsException.For(nameof(Temperature), $"must be positive, got {Temperature}");
        if (!(Alpha >= 0 && Alpha <= 1)) throw OptionsException.For(nameof(Alpha), $"must be in [0, 1], got {Alpha}");
        if (!(HintWeight >= 0) || double.IsInfinity(HintWeight)) throw OptionsException.For(nameof(HintWeight), $"must be 0 or more, got {HintWeight}");
        if (!(AttentionWeight >= 0) || double.IsInfinity(AttentionWeight)) throw OptionsException.For(nameof(AttentionWeight), $"must be 0 or more, got {AttentionWeight}");
        return this;
    }
}
