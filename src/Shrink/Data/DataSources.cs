using Shrink.Data.Sources;
using Shrink.Ir;

namespace Shrink.Data;

/// <summary>
/// Opens the data a user names — a directory (its kind detected), a file (<c>.npy</c>, <c>.npz</c>,
/// <c>.csv</c>) or a YAML dataset file — as a training and a test split. With no name it finds
/// Fashion-MNIST as <see cref="FashionMnist.Locate"/> does.
/// </summary>
/// <remarks>
/// A directory is, in this order: Fashion-MNIST or MNIST (the four IDX files, raw or <c>.gz</c>; its own train and test
/// splits); a folder with <c>train/</c> and <c>val/</c> (or <c>test/</c>) subfolders, each of the kinds below (its own
/// splits; an image folder's validation split takes the training split's classes and preprocessing); a folder holding
/// <c>x.npy</c> (and <c>y.npy</c>); an image folder (class subfolders). A source without splits of its own is split by
/// <see cref="DataOptions.SplitFraction"/> and <see cref="DataOptions.Seed"/>, or used whole for both. Augmentation
/// (<see cref="DataOptions.Augment"/>, a random crop of <see cref="ImageOptions.Crop"/>) applies to the training split only.
/// </remarks>
public static class DataSources
{
    /// <summary>What <see cref="Open"/> reads, for messages.</summary>
    public const string Known = "a directory (Fashion-MNIST or MNIST IDX files; x.npy with y.npy; class subfolders of images, possibly under train/ and val/), "
        + "a .npy, .npz, .csv or .yaml/.yml file, or embedded";

    /// <summary>Opens <paramref name="spec"/> for <paramref name="model"/> (whose inputs decide an image source's size, channels and layout).</summary>
    /// <exception cref="DataException">The data cannot be found or read; the message says what to give instead.</exception>
    /// <exception cref="OptionsException">An option does not fit the data (augmentation of data that is not images, an image size out of range).</exception>
    public static DataSplits Open(string? spec, DataOptions? options = null, Model? model = null)
    {
        options ??= new DataOptions();
        if (spec is null || spec == FashionMnist.EmbeddedName) return Finish(DataKinds.Idx(spec), options);
        if (Directory.Exists(spec)) return Finish(DataKinds.Directory(spec, options, model), options);
        var ext = Path.GetExtension(spec).ToLowerInvariant();
        if (ext is ".yaml" or ".yml") return DatasetFile.Open(spec, options, model);
        if (DataKinds.IsFileKind(ext)) return Finish(DataKinds.Single(DataKinds.File(spec, options, model)), options);
        if (!File.Exists(spec)) return Finish(DataKinds.Idx(spec), options); // FashionMnist's search says where it looked
        throw new DataException($"'{Text.Message.Name(spec, 200)}' is not a kind of data Shrink reads; give {Known}");
    }

    /// <summary>The splits of what was opened: split by fraction when it has none of its own, the training split augmented when asked.</summary>
    internal static DataSplits Finish(Opened opened, DataOptions options)
    {
        var (train, test) = (opened.Train, opened.Test);
        if (!opened.OwnSplits && options.SplitFraction is { } fraction)
            (train, test) = (opened.Train.Split(fraction, options.Seed).First, opened.Test.Split(fraction, options.Seed).Second);
        if (options.Augment is { } augment)
        {
            var settings = (opened.Train as ImageFolderSource)?.Settings;
            var fill = settings is null ? null : settings.Mean!.Zip(settings.Std!, (m, s) => -m / s).ToArray();
            train = new AugmentedSource(train, augment, options.Seed, settings?.Layout, fill);
        }
        return new DataSplits(train, test);
    }
}

/// <summary>What a name opened as: the training and test reading of it, and whether those are splits of its own.</summary>
/// <param name="Train">The training split (or the whole source, read for training).</param>
/// <param name="Test">The test split (or the whole source, read for testing).</param>
/// <param name="OwnSplits">Whether the data came with its own splits (IDX files, train/ and val/ folders).</param>
internal sealed record Opened(IDataSource Train, IDataSource Test, bool OwnSplits);
