using Shrink.Data.Images;
using Shrink.Data.Sources;
using Shrink.Ir;

namespace Shrink.Data;

/// <summary>Which source a path is: the kind of a directory detected from what it holds, a file's from its extension.</summary>
internal static class DataKinds
{
    /// <summary>The splits found by <see cref="FashionMnist"/>'s search (a directory, <c>embedded</c>, or null: the default places).</summary>
    public static Opened Idx(string? spec)
    {
        var splits = IdxSource.Load(spec);
        return new Opened(splits.Train, splits.Test, OwnSplits: true);
    }

    /// <summary>Whether <paramref name="extension"/> (lower case, with the dot) names a data file.</summary>
    public static bool IsFileKind(string extension) => extension is ".npy" or ".npz" or ".csv";

    /// <summary>A source with no splits of its own, read the same for training and testing.</summary>
    public static Opened Single(IDataSource source) => new(source, source, OwnSplits: false);

    /// <summary>The directory <paramref name="directory"/> as its kind (see <see cref="DataSources"/>).</summary>
    public static Opened Directory(string directory, DataOptions options, Model? model)
    {
        if (IdxFileSet.Find(directory) is { Missing.Count: 0 }) return Idx(directory);
        if (SplitFolder(directory, "train") is { } train && (SplitFolder(directory, "val") ?? SplitFolder(directory, "test")) is { } test)
        {
            var first = Part(train, options, model, null, training: true)!;
            return new Opened(first, Part(test, options, model, first as ImageFolderSource, training: false)!, OwnSplits: true);
        }
        if (Part(directory, options, model, null, training: true, required: false) is not { } source)
            throw Unknown(directory);
        return source is ImageFolderSource images ? new Opened(images, images.AsSplit(false, options), OwnSplits: false) : Single(source);
    }

    /// <summary>
    /// One split from <paramref name="path"/>: a data file, a folder holding <c>x.npy</c>, or an image folder (with the classes
    /// and preprocessing of <paramref name="like"/> when given); null when <paramref name="required"/> is false and it is none of them.
    /// </summary>
    public static IDataSource? Part(string path, DataOptions options, Model? model, ImageFolderSource? like, bool training, bool required = true)
    {
        if (!System.IO.Directory.Exists(path)) return File(path, options, model);
        var x = Path.Combine(path, "x.npy");
        if (System.IO.File.Exists(x)) return NpySource.Open(x, options);
        if (ImageFolderIndex.LooksLike(path)) return ImageFolderSource.Open(path, options, model, like, training);
        if (IdxFileSet.Find(path) is { Missing.Count: 0 }) return training ? IdxSource.Load(path).Train : IdxSource.Load(path).Test;
        return required ? throw Unknown(path) : null;
    }

    /// <summary>The data file <paramref name="path"/>, by its extension.</summary>
    public static IDataSource File(string path, DataOptions options, Model? model)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (!IsFileKind(ext))
            throw new DataException($"'{Text.Message.Name(path, 200)}' is not a kind of data Shrink reads; give a directory (x.npy with y.npy, or class subfolders of images), or a .npy, .npz or .csv file");
        return ext switch
        {
            ".npy" => NpySource.Open(path, options),
            ".npz" => NpzSource.Open(path, options, model),
            _ => CsvSource.Open(path, options),
        };
    }

    private static string? SplitFolder(string directory, string name)
    {
        var path = Path.Combine(directory, name);
        return System.IO.Directory.Exists(path) ? path : null;
    }

    private static DataException Unknown(string directory)
    {
        var idx = IdxFileSet.Find(directory);
        var found = idx.Missing.Count < IdxFileSet.Names.Length ? $"some IDX files ({idx.Describe()}), " : "";
        return new DataException($"'{Text.Message.Name(directory, 200)}' holds no data Shrink reads ({found}no x.npy, no class subfolders of images); give {DataSources.Known}");
    }
}
