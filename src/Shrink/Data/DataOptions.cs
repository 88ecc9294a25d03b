namespace Shrink.Data;

/// <summary>
/// How a data source is read and prepared, whatever its kind. Every property has the default a
/// PyTorch <c>ImageFolder</c>/<c>DataLoader</c> user would expect; properties that do not apply to a
/// kind of source are ignored by it. A YAML dataset file holds the same properties as kebab-case keys.
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

    /// <summary>How images are decoded and preprocessed; null takes everything from the model's input.</summary>
    public ImageOptions? Image { get; init; }

    /// <summary>Random augmentation of the training split (image-shaped float data only); null (the default) augments nothing.</summary>
    public AugmentOptions? Augment { get; init; }

    /// <summary>Which columns of a CSV table are features and which the label.</summary>
    public CsvOptions? Csv { get; init; }

    /// <summary>Number of classes of NumPy or CSV labels; null counts them as the largest label plus one.</summary>
    public int? ClassCount { get; init; }

    /// <summary>Skip images that cannot be decoded (checked once when the folder is opened) and count them, instead of refusing the folder.</summary>
    public bool SkipBad { get; init; }

    /// <summary>Images decoded at once (a bound on the threads of one batch); null uses every core.</summary>
    public int? Workers { get; init; }

    /// <summary>
    /// These options over <paramref name="under"/> (a dataset file's): each property set here — not null, not false, not
    /// the default value — replaces the one under it; <see cref="Image"/> and <see cref="Csv"/> property by property,
    /// <see cref="Augment"/> as a whole. So a seed of 0 leaves the one under it.
    /// </summary>
    public DataOptions Over(DataOptions under) => under with
    {
        Seed = Seed != 0 ? Seed : under.Seed,
        SplitFraction = SplitFraction ?? under.SplitFraction,
        Image = Image is null ? under.Image : under.Image is null ? Image : Image.Over(under.Image),
        Augment = Augment ?? under.Augment,
        Csv = Csv is null ? under.Csv : under.Csv is null ? Csv : Csv.Over(under.Csv),
        ClassCount = ClassCount ?? under.ClassCount,
        SkipBad = SkipBad || under.SkipBad,
        Workers = Workers ?? under.Workers,
    };
}

/// <summary>
/// Image preprocessing, in torchvision's order: decode (RGB or grayscale), resize the shorter side
/// (bilinear, antialiased when shrinking, as PIL), crop (centre, or random for training), scale to [0, 1],
/// normalise by mean and std, lay out as CHW or HWC. Each property left null is taken from the model's
/// input (channels, height, width, layout), else from the first image (size), else RGB and CHW.
/// </summary>
public sealed record ImageOptions
{
    /// <summary>Output height and width ([H, W], or [S] for S×S); null: the model's input size, else the first image's.</summary>
    public int[]? Size { get; init; }

    /// <summary>The shorter side is resized to this before the crop; null: the least size that covers the crop.</summary>
    public int? Resize { get; init; }

    /// <summary>Where the crop is taken from the resized image.</summary>
    public ImageCrop Crop { get; init; } = ImageCrop.Center;

    /// <summary>1 (grayscale, ITU-R 601 luma) or 3 (RGB); null: the model's input channels, else 3.</summary>
    public int? Channels { get; init; }

    /// <summary>Per-channel mean subtracted after scaling to [0, 1] (one value for every channel, or one per channel); null: 0.</summary>
    public float[]? Mean { get; init; }

    /// <summary>Per-channel standard deviation divided by after the mean (one value, or one per channel); null: 1.</summary>
    public float[]? Std { get; init; }

    /// <summary>Channels first (CHW) or last (HWC) in each sample; null: the model's input layout, else CHW.</summary>
    public ImageLayout? Layout { get; init; }

    /// <summary>These options over <paramref name="under"/>: each property not null (a crop not the centre) replaces the one under it.</summary>
    public ImageOptions Over(ImageOptions under) => new()
    {
        Size = Size ?? under.Size, Resize = Resize ?? under.Resize, Crop = Crop != ImageCrop.Center ? Crop : under.Crop,
        Channels = Channels ?? under.Channels, Mean = Mean ?? under.Mean, Std = Std ?? under.Std, Layout = Layout ?? under.Layout,
    };
}

/// <summary>Where a crop is taken.</summary>
public enum ImageCrop
{
    /// <summary>The centre (torchvision <c>CenterCrop</c>): every epoch reads the same.</summary>
    Center,

    /// <summary>A seeded random position on the training split (torchvision <c>RandomCrop</c>); the test split is cropped at the centre.</summary>
    Random,
}

/// <summary>The order of an image sample's axes.</summary>
public enum ImageLayout
{
    /// <summary>Channels, height, width (PyTorch).</summary>
    Nchw,

    /// <summary>Height, width, channels (TensorFlow, Keras).</summary>
    Nhwc,
}

/// <summary>
/// Augmentation of training images (torchvision <c>RandomCrop(size, padding)</c> then <c>RandomHorizontalFlip()</c>),
/// seeded from (<see cref="DataOptions.Seed"/>, epoch, sample index): the same epoch always reads the same, so a
/// resumed run reads what an uninterrupted one would.
/// </summary>
public sealed record AugmentOptions
{
    /// <summary>Pixels of padding on each side before a random crop back to the image size; 0 crops nothing.</summary>
    public int Padding { get; init; } = 4;

    /// <summary>Flip each image left to right with probability one half.</summary>
    public bool Flip { get; init; } = true;
}

/// <summary>Which columns of a CSV table are read, and as what.</summary>
public sealed record CsvOptions
{
    /// <summary>The column of class labels; null: <c>label</c> when the table has one, else no labels.</summary>
    public string? LabelColumn { get; init; }

    /// <summary>Read no labels at all, even when a <c>label</c> column is present (it is then a feature).</summary>
    public bool Unlabelled { get; init; }

    /// <summary>The feature columns, in order; null: every column but the label.</summary>
    public string[]? Features { get; init; }

    /// <summary>Name of the one float32 input the features make.</summary>
    public string InputName { get; init; } = "features";

    /// <summary>These options over <paramref name="under"/>: each property set here (not null, not false, not the default name) replaces the one under it.</summary>
    public CsvOptions Over(CsvOptions under) => new()
    {
        LabelColumn = LabelColumn ?? under.LabelColumn, Unlabelled = Unlabelled || under.Unlabelled, Features = Features ?? under.Features,
        InputName = InputName != new CsvOptions().InputName ? InputName : under.InputName,
    };
}
