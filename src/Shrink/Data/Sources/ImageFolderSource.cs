using System.Globalization;
using Shrink.Data.Images;
using Shrink.Ir;
using Shrink.Runtime;

namespace Shrink.Data.Sources;

/// <summary>
/// A folder of images in torchvision's <c>ImageFolder</c> layout (one subfolder per class; see
/// <see cref="ImageFolderIndex"/>) as a data source of one float32 input, <c>image</c>, preprocessed as
/// <see cref="ImageOptions"/> says (the model's input fills in what it leaves open). Only the file list is held:
/// each <see cref="Read"/> reads and decodes its batch's files, in parallel (at most <see cref="DataOptions.Workers"/>
/// at once), so a folder larger than memory is never loaded whole. Safe for concurrent reads.
/// </summary>
public sealed class ImageFolderSource : IDataSource
{
    /// <summary>The name of the one input.</summary>
    public const string InputName = "image";

    private const ulong CropStream = 0x43524F50_494D4147UL;

    private readonly ImageFolderIndex _index;
    private readonly ImageSettings _settings;
    private readonly int _seed;
    private readonly int _workers;

    private ImageFolderSource(ImageFolderIndex index, ImageSettings settings, DataOptions options, bool randomCrop, IReadOnlyList<string> skipped)
    {
        (_index, _settings, _seed, SkippedFiles, Augments) = (index, settings, options.Seed, skipped, randomCrop);
        _workers = options.Workers is { } w ? (w >= 1 ? w : throw OptionsException.For(nameof(DataOptions.Workers), $"must be 1 or more, got {w}")) : Environment.ProcessorCount;
        Inputs = [new DataInput(InputName, DataType.Float, settings.SampleShape)];
        var c = CultureInfo.InvariantCulture;
        Name = $"image folder {index.Root}: {index.Files.Length.ToString("N0", c)} images in {index.Classes.Count} classes, {settings.ShapeText}"
            + (randomCrop ? ", random crop" : "") + (skipped.Count > 0 ? $", {skipped.Count.ToString("N0", c)} unreadable skipped" : "");
    }

    /// <summary>
    /// Opens the image folder <paramref name="directory"/>; <paramref name="training"/> reads it as a training split
    /// (a random crop when <see cref="ImageOptions.Crop"/> asks for one).
    /// </summary>
    /// <exception cref="DataException">No class folders, an empty class folder, or (with <see cref="DataOptions.SkipBad"/>) a class left with no readable image.</exception>
    /// <exception cref="OptionsException">An image option out of range.</exception>
    public static ImageFolderSource Open(string directory, DataOptions? options = null, Model? model = null, bool training = false)
        => Open(directory, options ?? new DataOptions(), model, null, training);

    /// <summary>Opens <paramref name="directory"/> with the classes and preprocessing of <paramref name="like"/> (a training split) when given.</summary>
    internal static ImageFolderSource Open(string directory, DataOptions options, Model? model, ImageFolderSource? like, bool training)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var index = ImageFolderIndex.Scan(directory, like?._index.Classes);
        IReadOnlyList<string> skipped = [];
        if (options.SkipBad) (index, skipped) = WithoutBad(index, options.Workers ?? Environment.ProcessorCount);
        var settings = like?._settings ?? ImageSettings.Resolve(options.Image, model, () => ImageDecoder.Size(index.Files[0]));
        return new ImageFolderSource(index, settings, options, training && settings.Crop == ImageCrop.Random, skipped);
    }

    /// <summary>The same images read as a training split (<paramref name="training"/>) or a test split (centre crop).</summary>
    internal ImageFolderSource AsSplit(bool training, DataOptions options) =>
        new(_index, _settings, options, training && _settings.Crop == ImageCrop.Random, SkippedFiles);

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Count => _index.Files.Length;

    /// <inheritdoc/>
    public IReadOnlyList<DataInput> Inputs { get; }

    /// <inheritdoc/>
    public int? ClassCount => _index.Classes.Count;

    /// <inheritdoc/>
    public IReadOnlyList<string>? ClassNames => _index.Classes;

    /// <summary>True when each epoch crops at a random place (<see cref="ImageCrop.Random"/> on a training split).</summary>
    public bool Augments { get; }

    /// <summary>The folder.</summary>
    public string Directory => _index.Root;

    /// <summary>Each sample's image file, in sample order.</summary>
    public IReadOnlyList<string> Files => _index.Files;

    /// <summary>The preprocessing, every property set (what was left open is filled in from the model or the first image).</summary>
    public ImageOptions Settings => _settings.ToOptions();

    /// <summary>The images that could not be decoded and were left out (<see cref="DataOptions.SkipBad"/>).</summary>
    public IReadOnlyList<string> SkippedFiles { get; }

    /// <inheritdoc/>
    public DataBatch Read(int[] samples, int epoch = 0)
    {
        DataChecks.Indices(samples, Count, Name);
        var size = (int)Inputs[0].SampleSize;
        var data = new float[samples.Length * size];
        var errors = new DataException?[samples.Length];
        Parallel.For(0, samples.Length, new ParallelOptions { MaxDegreeOfParallelism = _workers }, i =>
        {
            try { ReadOne(samples[i], epoch, data.AsSpan(i * size, size)); }
            catch (DataException e) { errors[i] = e; }
        });
        if (errors.FirstOrDefault(e => e is not null) is { } error) throw error;
        var shape = new long[] { samples.Length }.Concat(_settings.SampleShape.Select(d => (long)d)).ToArray();
        return new DataBatch([new HostTensor(InputName, data, shape)], samples.Select(s => _index.Labels[s]).ToArray());
    }

    private void ReadOne(int sample, int epoch, Span<float> output)
    {
        using var image = ImageDecoder.Decode(_index.Files[sample]);
        var (rw, rh) = ImageTransform.Resized(image.Width, image.Height, _settings);
        if (rw < _settings.Width || rh < _settings.Height)
            throw new DataException(Text.OptionText.Of($"image '{Text.Message.Name(_index.Files[sample], 200)}' ({image.Width}×{image.Height}) resizes to {rw}×{rh}, smaller than the {_settings.Width}×{_settings.Height} crop; resize the shorter side to at least {Math.Max(_settings.Width, _settings.Height)} ({Text.OptionName.Of(nameof(ImageOptions.Resize), "the resize image option")})"));
        ImageTransform.Apply(image, _settings, output, Augments ? new SampleRandom(_seed, epoch, sample, CropStream) : null);
    }

    private static (ImageFolderIndex, IReadOnlyList<string>) WithoutBad(ImageFolderIndex index, int workers)
    {
        var bad = new bool[index.Files.Length];
        Parallel.For(0, bad.Length, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, workers) }, i => bad[i] = ImageDecoder.Check(index.Files[i]) is not null);
        var drop = Enumerable.Range(0, bad.Length).Where(i => bad[i]).ToHashSet();
        return drop.Count == 0 ? (index, []) : (index.Without(drop), drop.Order().Select(i => index.Files[i]).ToArray());
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
