using Shrink.Text;

namespace Shrink.Data;

/// <summary>
/// Loads Fashion-MNIST (10 classes of 1×28×28 images) from IDX files, looking in turn at:
/// the directory the caller names (the value <c>embedded</c> means the embedded subset),
/// the directory in <c>SHRINK_DATA</c>, Debian's <c>/usr/share/datasets/fashion-mnist</c>,
/// and finally the 6,000/1,000-sample subset embedded in Shrink.
/// </summary>
public static class FashionMnist
{
    /// <summary>The data directory value that selects the embedded subset.</summary>
    public const string EmbeddedName = "embedded";

    /// <summary>Environment variable naming a data directory.</summary>
    public const string EnvironmentVariable = "SHRINK_DATA";

    /// <summary>Where Debian's dataset-fashion-mnist package installs the full set.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Number of classes.</summary>
    public const int ClassCount = 10;

    /// <summary>The class names, in label order (those of the Fashion-MNIST paper; MNIST's classes are the digits).</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Where messages say the data is given: the options property "Data" (the CLI prints the flag that gives it).</summary>
    private static readonly OptionName Data = OptionName.Of("Data");

    private static readonly OptionText Mend = OptionText.Of($"install Debian's dataset-fashion-mnist, pass {Data} DIR, or pass {Data} {EmbeddedName}");

    /// <summary>Loads the training and test sets; <paramref name="dataDir"/> is the directory the caller names, if any.</summary>
    /// <exception cref="DataException">The named directory lacks the files, or a file is corrupt.</exception>
    public static DataSplits Load(string? dataDir = null) => Splits(LoadPair(dataDir));

    /// <summary>The in-memory sets <see cref="Load(string?)"/> reads (the IDX reader's form, for the sources that wrap it).</summary>
    internal static DatasetPair LoadPair(string? dataDir = null)
        => Load(dataDir, Environment.GetEnvironmentVariable(EnvironmentVariable), DebianDirectory);

    /// <summary>
    /// Where <see cref="Load(string?)"/> would read from: <paramref name="dataDir"/> when given, else the directory in
    /// <c>SHRINK_DATA</c>, else Debian's directory when it holds the four files, else <see cref="EmbeddedName"/>.
    /// </summary>
    public static string Locate(string? dataDir = null)
    {
        if (dataDir is not null) return dataDir;
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env) return env;
        return IdxFileSet.Find(DebianDirectory) is { Missing.Count: 0 } ? DebianDirectory : EmbeddedName;
    }

    /// <summary>Loads the subset embedded in Shrink: 600 training and 100 test images per class.</summary>
    public static DataSplits LoadEmbedded() => Splits(LoadEmbeddedPair());

    /// <summary>Loads from the four IDX files in <paramref name="directory"/>.</summary>
    /// <exception cref="DataException">A file is missing or corrupt.</exception>
    public static DataSplits LoadDirectory(string directory) => Splits(Load(directory, null, null));

    /// <summary>The two in-memory sets as sources with one float32 input, <c>image</c> [1, 28, 28].</summary>
    private static DataSplits Splits(DatasetPair pair) => new(new Sources.IdxSource(pair.Train), new Sources.IdxSource(pair.Test));

    private static DatasetPair LoadEmbeddedPair() => new(LoadEmbedded("train"), LoadEmbedded("test"));

    /// <summary>The search with its places given, so tests need not depend on the machine.</summary>
    internal static DatasetPair Load(string? dataDir, string? envDir, string? defaultDir)
    {
        if (dataDir is not null)
            return LoadRequired(dataDir, OptionText.Of($"{Data} {dataDir}"));
        if (!string.IsNullOrEmpty(envDir))
            return LoadRequired(envDir, OptionText.Plain($"{EnvironmentVariable}={envDir}"));
        var found = defaultDir is null ? null : IdxFileSet.Find(defaultDir);
        if (found is { Missing.Count: 0 })
            return LoadFiles(found);
        if (!HasEmbedded())
        {
            var looked = found is null ? "" : $"{found.Directory} ({found.Describe()}), ";
            throw new DataException(OptionText.Of($"no Fashion-MNIST found: looked in {looked}the embedded subset (not built into Shrink.dll); {Mend}"));
        }
        return LoadEmbeddedPair();
    }

    private static DatasetPair LoadRequired(string dir, OptionText place)
    {
        if (string.Equals(dir, EmbeddedName, StringComparison.Ordinal))
            return LoadEmbeddedPair();
        var found = IdxFileSet.Find(dir);
        if (found.Missing.Count > 0)
            throw new DataException(OptionText.Of($"no Fashion-MNIST found: looked in {place} ({found.Describe()}); {Mend}"));
        return LoadFiles(found);
    }

    private static DatasetPair LoadFiles(IdxFileSet files)
        => new(LoadSplit(files, "train"), LoadSplit(files, "test"));

    private static Dataset LoadSplit(IdxFileSet files, string split)
    {
        string images = files.Path(IdxFileSet.ImagesName(split)), labels = files.Path(IdxFileSet.LabelsName(split));
        return ToDataset(IdxReader.ReadImages(images), images, IdxReader.ReadLabels(labels), labels,
            $"Fashion-MNIST {split} ({files.Directory})");
    }

    private static Dataset LoadEmbedded(string split)
    {
        string imagesName = IdxFileSet.ImagesName(split) + ".gz", labelsName = IdxFileSet.LabelsName(split) + ".gz";
        using var images = OpenResource(imagesName);
        using var labels = OpenResource(labelsName);
        return ToDataset(IdxReader.ReadImages(images, imagesName), imagesName,
            IdxReader.ReadLabels(labels, labelsName), labelsName, $"Fashion-MNIST {split} (embedded subset)");
    }

    private static bool HasEmbedded()
        => IdxFileSet.Names.All(n => typeof(FashionMnist).Assembly.GetManifestResourceInfo(ResourceName(n + ".gz")) is not null);

    private static string ResourceName(string fileName) => $"Shrink.Data.Embedded.{fileName}";

    internal static Stream OpenResource(string fileName)
    {
        var name = ResourceName(fileName);
        return typeof(FashionMnist).Assembly.GetManifestResourceStream(name)
            ?? throw new DataException(OptionText.Of($"the embedded Fashion-MNIST subset is missing resource '{name}'; rebuild Shrink with src/Shrink/Data/Embedded/*.gz present, or pass {Data} DIR"));
    }

    private static Dataset ToDataset(IdxImages images, string imagesName, int[] labels, string labelsName, string source)
    {
        if (images.Count != labels.Length)
            throw new DataException($"'{imagesName}' holds {images.Count} images but '{labelsName}' holds {labels.Length} labels; use the image and label files of the same split");
        return new Dataset(images.Pixels, labels, [1, images.Rows, images.Cols], ClassCount, source);
    }
}
