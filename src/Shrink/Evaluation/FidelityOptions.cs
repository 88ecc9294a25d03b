using Shrink.Data;
using Shrink.Text;

namespace Shrink.Evaluation;

/// <summary>
/// How a command that changes what a model computes measures its result against its input model (every output:
/// cosine similarity, SQNR, max |error|, top-1 agreement; <see cref="OutputFidelity"/>), and the bound the result must
/// meet. The one options type of the fidelity gate: a technique with a bound of its own (quantization's float fallback)
/// names it with the same property, <see cref="MinFidelity"/>.
/// </summary>
public sealed record FidelityOptions
{
    /// <summary>
    /// The smallest worst-output cosine similarity to the input model a result may have; below it the result is refused
    /// (<see cref="FidelityException"/>) and nothing is written. Null accepts any result (a collapse, cosine under
    /// <see cref="Fidelity.CollapseCosine"/>, is warned about).
    /// </summary>
    public double? MinFidelity { get; init; }

    /// <summary>Seeded random inputs (normal floats, token ids over the vocabulary an integer input indexes, other integers 0 or 1) measured on when there is no data; printed with the figures.</summary>
    public int RandomSamples { get; init; } = 32;

    /// <summary>Seed of the random inputs.</summary>
    public int Seed { get; init; }

    /// <summary>Checks the values; returns the options.</summary>
    /// <exception cref="OptionsException">A value out of range, naming its property.</exception>
    public FidelityOptions Validate()
    {
        if (MinFidelity is { } m && !(m >= -1 && m <= 1))
            throw OptionsException.For(nameof(MinFidelity), $"is a cosine similarity, in [-1, 1], got {m:G}; 0.99 keeps outputs close to the input model's");
        if (RandomSamples < 1) throw OptionsException.For(nameof(RandomSamples), $"must be 1 or more, got {RandomSamples}");
        return this;
    }

    /// <summary>
    /// Refuses <paramref name="outputs"/> when the worst output's cosine is below <see cref="MinFidelity"/>: one line naming the
    /// output, its cosine, the bound and <paramref name="mend"/> (what to change so the result holds, e.g. "lower the sparsity").
    /// </summary>
    /// <exception cref="FidelityException">The worst output is below the bound.</exception>
    public void Enforce(IReadOnlyList<OutputFidelity> outputs, OptionText? mend = null)
    {
        if (MinFidelity is not { } bound || outputs.Count == 0) return;
        var worst = outputs.MinBy(o => o.Cosine)!;
        if (worst.Cosine >= bound) return;
        var min = OptionName.Of(nameof(MinFidelity));
        throw new FidelityException(worst, bound, OptionText.Of(
            $"output '{Message.Name(worst.Output)}' has cosine {worst.Cosine:F4} against the input model, below {min} {bound:G}; nothing was written: {mend ?? OptionText.Plain("compress less")}, or lower {min}"));
    }
}

/// <summary>
/// What <see cref="ModelEvaluation.Compare"/> measures a result's fidelity on and how it judges it: <see cref="Options"/>
/// (bound, random inputs), <see cref="Data"/> to measure on when the comparison has no test data (a calibration set;
/// without either, seeded random inputs), and <see cref="Mend"/>, what a refusal tells the user to change.
/// </summary>
public sealed record FidelityCheck
{
    public FidelityOptions Options { get; init; } = new();

    /// <summary>Samples to measure on when the comparison is given no test data (the calibration set); null: random inputs.</summary>
    public IDataSource? Data { get; init; }

    /// <summary>What to change so the result holds, for the refusal ("prune fewer layers or lower the sparsity"); options named by <see cref="OptionName"/>.</summary>
    public OptionText? Mend { get; init; }
}
