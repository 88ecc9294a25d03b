namespace Shrink.Passes.Deployment;

/// <summary>
/// How <see cref="SplitPass"/> cuts a model: into <see cref="Parts"/> parts of similar weight, or into parts whose
/// weights (<see cref="MaxPartBytes"/>) or weights plus peak activation memory at <see cref="Batch"/>
/// (<see cref="MaxPartMemory"/>) stay under a bound. Exactly one of the three is given.
/// </summary>
public sealed record SplitOptions
{
    /// <summary>Cut into this many parts, each within 10% of the most even split of the weights that a linear order allows.</summary>
    public int? Parts { get; init; }

    /// <summary>Each part's weights (initializers and Constant tensors it reads, each counted once) stay under this many bytes.</summary>
    public long? MaxPartBytes { get; init; }

    /// <summary>Each part's weights plus its peak activation memory at <see cref="Batch"/>, estimated from shapes, stay under this many bytes.</summary>
    public long? MaxPartMemory { get; init; }

    /// <summary>The batch size symbolic first dimensions take when activation bytes are estimated (the boundary tensors' sizes, the peak memory).</summary>
    public int Batch { get; init; } = 1;

    /// <summary>Checks that exactly one bound is given and that each value is in range.</summary>
    public SplitOptions Validate()
    {
        var given = (Parts is null ? 0 : 1) + (MaxPartBytes is null ? 0 : 1) + (MaxPartMemory is null ? 0 : 1);
        if (given != 1) throw new OptionsException(Text.OptionText.Of(
            $"give exactly one of {Text.OptionName.Of(nameof(Parts))}, {Text.OptionName.Of(nameof(MaxPartBytes))} and {Text.OptionName.Of(nameof(MaxPartMemory))}"));
        if (Parts is < 1) throw OptionsException.For(nameof(Parts), $"must be 1 or more, got {Parts}");
        if (MaxPartBytes is < 1) throw OptionsException.For(nameof(MaxPartBytes), $"must be a positive number of bytes, got {MaxPartBytes}");
        if (MaxPartMemory is < 1) throw OptionsException.For(nameof(MaxPartMemory), $"must be a positive number of bytes, got {MaxPartMemory}");
        if (Batch < 1) throw OptionsException.For(nameof(Batch), $"must be 1 or more, got {Batch}");
        return this;
    }
}
