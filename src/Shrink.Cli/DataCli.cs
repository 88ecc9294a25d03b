using System.CommandLine;
using System.Globalization;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Recipes;

namespace Shrink.Cli;

/// <summary>
/// <c>--data</c> and the data flags, one definition for every command that reads data: the value is opened by
/// <see cref="DataSources.Open"/> for the command's model with the <see cref="DataOptions"/> the flags give, and data that
/// does not fit the model is refused with one line (<see cref="DataBinding"/>). A command that defaults to Fashion-MNIST when
/// <c>--data</c> is absent says so in that line and names the flags that mend it: never a silent fallback. With a YAML dataset
/// file, a flag overrides the file's key (the augmentation flags together replace its <c>augment</c>).
/// </summary>
internal sealed class DataCli
{
    public const string Description = "Data: a directory (Fashion-MNIST IDX files, an image folder), a file (.npy, .npz, .csv), a YAML dataset file, or 'embedded'; " +
        "without labels, accuracy gives way to fidelity to the original model (default: Fashion-MNIST from $SHRINK_DATA, /usr/share/datasets/fashion-mnist, else the embedded subset)";

    /// <summary>The flags of properties whose names are not their flags', for <see cref="CliContext"/>'s naming of library messages.</summary>
    public static readonly (string Property, string[] Flags)[] PropertyFlags =
    [
        (nameof(ImageOptions.Size), ["--image-size"]), (nameof(DataOptions.Workers), ["--data-workers"]),
        (nameof(AugmentOptions.Padding), ["--augment-padding"]), (nameof(DataOptions.Augment), ["--augment-padding", "--flip"]),
    ];

    private readonly Option<int> _seed;
    private readonly bool _ownSeed, _trains;

    /// <summary>
    /// The data flags of a command: <paramref name="seed"/> is the command's own <c>--seed</c> (which then also seeds the split
    /// and augmentation), else the data flags bring one; the augmentation flags only where the command <paramref name="trains"/>.
    /// </summary>
    public DataCli(string description = Description, Option<int>? seed = null, bool trains = false)
    {
        Data = new Option<string?>("--data") { Description = description };
        _ownSeed = seed is null;
        _seed = seed ?? new Option<int>("--seed") { Description = "Seed of the split that --split-fraction draws (give the training command's --seed)", DefaultValueFactory = _ => 0 };
        _trains = trains;
        Layout.AcceptOnlyFromAmong("nchw", "nhwc");
    }

    public Option<string?> Data { get; }
    public Option<bool> SkipBad { get; } = new("--skip-bad") { Description = "Image folders: skip images that cannot be decoded, and count them in the data's name, instead of refusing the folder" };
    public Option<string?> LabelColumn { get; } = new("--label-column") { Description = "CSV: the column of class labels (default: 'label' when the table has one, else no labels)" };
    public Option<double?> SplitFraction { get; } = new("--split-fraction") { Description = "Hold out this fraction as the test split (drawn with --seed) when the data has no test split of its own" };
    public Option<string?> ImageSize { get; } = new("--image-size") { Description = "Images: H or HxW after resize and centre crop (default: the model's input size)" };
    public Option<int?> Channels { get; } = new("--channels") { Description = "Images: 1 (grayscale) or 3 (RGB) (default: the model's input channels)" };
    public Option<string?> Mean { get; } = new("--mean") { Description = "Images: per-channel mean subtracted after scaling to [0, 1], e.g. 0.485,0.456,0.406 (default 0)" };
    public Option<string?> Std { get; } = new("--std") { Description = "Images: per-channel standard deviation divided by, e.g. 0.229,0.224,0.225 (default 1)" };
    public Option<string?> Layout { get; } = new("--layout") { Description = "Images: nchw or nhwc (default: the model's input layout)" };
    public Option<int?> AugmentPadding { get; } = new("--augment-padding") { Description = "Augment training images: pad N pixels on each side, then crop back at a random place (seeded by --seed and the epoch)" };
    public Option<bool> Flip { get; } = new("--flip") { Description = "Augment training images: flip left to right with probability one half" };
    public Option<int?> Workers { get; } = new("--data-workers") { Description = "Images decoded at once (default: one per core)" };

    /// <summary>The data flags without <c>--data</c> (which a command may place first).</summary>
    public IEnumerable<Option> Flags => new Option[] { SkipBad, LabelColumn, SplitFraction, ImageSize, Channels, Mean, Std, Layout, Workers }
        .Concat(_trains ? new Option[] { AugmentPadding, Flip } : []).Concat(_ownSeed ? [_seed] : []);

    public IEnumerable<Option> All => Flags.Prepend(Data);

    public void AddTo(Command command)
    {
        foreach (var option in All) command.Options.Add(option);
    }

    /// <summary>Whether an augmentation flag is given.</summary>
    public bool Augments(ParseResult p) => p.GetResult(AugmentPadding) is { Implicit: false } || p.GetValue(Flip);

    /// <summary>Whether --data is given.</summary>
    public bool Given(ParseResult p) => p.GetValue(Data) is not null;

    /// <summary>
    /// The options the flags set, or null when none is given (the library's defaults, as before the flags existed); the seed is
    /// part of them when another flag is given, or when it is given with a YAML dataset file. <paramref name="hasData"/>: a
    /// flag needs data to read (--data, or quantize's --calib-data).
    /// </summary>
    public DataOptions? Build(ParseResult p, bool? hasData = null)
    {
        var given = Flags.Where(o => o != _seed && p.GetResult(o) is { Implicit: false }).Select(o => o.Name).FirstOrDefault();
        var yaml = p.GetValue(Data) is { } spec && Path.GetExtension(spec).ToLowerInvariant() is ".yaml" or ".yml";
        if (given is null && !(yaml && p.GetResult(_seed) is { Implicit: false })) return null;
        if (given is not null && !(hasData ?? Given(p))) throw new OptionsException($"{given} says how data is read; give --data");
        var augments = Augments(p);
        return new DataOptions
        {
            Seed = p.GetValue(_seed),
            SplitFraction = p.GetValue(SplitFraction),
            SkipBad = p.GetValue(SkipBad),
            Workers = p.GetValue(Workers),
            Csv = p.GetValue(LabelColumn) is { } column ? new CsvOptions { LabelColumn = column } : null,
            Augment = augments ? new AugmentOptions { Padding = p.GetValue(AugmentPadding) ?? 0, Flip = p.GetValue(Flip) } : null,
            Image = Image(p),
        };
    }

    private ImageOptions? Image(ParseResult p)
    {
        if (new Option[] { ImageSize, Channels, Mean, Std, Layout }.All(o => p.GetResult(o) is not { Implicit: false })) return null;
        return new ImageOptions
        {
            Size = p.GetValue(ImageSize) is { } size ? ParseSize(size) : null,
            Channels = p.GetValue(Channels),
            Mean = p.GetValue(Mean) is { } mean ? ParseFloats("--mean", mean) : null,
            Std = p.GetValue(Std) is { } std ? ParseFloats("--std", std) : null,
            Layout = p.GetValue(Layout) switch { "nchw" => ImageLayout.Nchw, "nhwc" => ImageLayout.Nhwc, _ => null },
        };
    }

    /// <summary>Opens --data (absent: the Fashion-MNIST default) for <paramref name="model"/> with the flags' options; <paramref name="mend"/> as in <see cref="Open(string?, DataOptions?, Model, string, string)"/>.</summary>
    public DataSplits Open(ParseResult p, Model model, string modelName, string mend = "give --data") => Open(p.GetValue(Data), Build(p), model, modelName, mend);

    /// <summary>Opens --data when given (null: no data).</summary>
    public DataSplits? Optional(ParseResult p, Model model, string modelName) => Given(p) ? Open(p, model, modelName) : null;

    /// <summary>The data of the command as a recipe records it: --data (or <paramref name="spec"/>) with the flags' options.</summary>
    public RecipeData Recipe(ParseResult p, string? spec = null) => RecipeData.For(spec ?? p.GetValue(Data), Build(p));

    /// <summary>
    /// Opens <paramref name="spec"/> (null: the Fashion-MNIST default) for <paramref name="model"/> and checks that both splits
    /// fit it; <paramref name="mend"/> is what the user gives instead when the default does not fit.
    /// </summary>
    /// <exception cref="DataException">The data cannot be read, or does not fit the model.</exception>
    public static DataSplits Open(string? spec, DataOptions? options, Model model, string modelName, string mend = "give --data")
    {
        if (spec is not null) CheckPath(spec, "--data");
        var splits = DataSources.Open(spec, options ?? new DataOptions(), model);
        Check(splits, model, modelName, spec is null ? mend : null);
        return splits;
    }

    /// <summary>Refuses splits that do not fit the model; with <paramref name="defaultMend"/> the data was the default, and the line says so.</summary>
    public static void Check(DataSplits splits, Model model, string modelName, string? defaultMend)
    {
        foreach (var split in new[] { splits.Test, splits.Train })
            if ((DataBinding.Misfit(model, split, modelName) ?? DataBinding.LabelMisfit(model, split, modelName)) is { } reason)
                throw new DataException(defaultMend is null ? reason : Defaulted(reason, defaultMend));
    }

    /// <summary>A misfit of the default data: what the model takes and what Fashion-MNIST gives, then the flags to give.</summary>
    private static string Defaulted(string reason, string mend)
    {
        var cut = reason.LastIndexOf("; give ", StringComparison.Ordinal);
        return $"{(cut < 0 ? reason : reason[..cut])}; with no --data Shrink reads Fashion-MNIST, which does not fit: {mend}";
    }

    /// <summary>Refuses, before anything reads it, a path that names neither a directory nor a regular file (a FIFO would hang the reader).</summary>
    public static void CheckPath(string spec, string flag)
    {
        if (IO.FileIdentity.Of(spec).Kind != IO.FileKind.Directory && IO.FileIdentity.NotRegular(spec, flag) is { } problem) throw new DataException(problem);
    }

    /// <summary>How a command names its model in data messages.</summary>
    public static string Name(string path) => $"'{path}'";

    /// <summary>Parses <c>H</c> or <c>HxW</c>.</summary>
    private static int[] ParseSize(string value)
    {
        var parts = value.Split('x', 'X');
        var sizes = parts.Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 0).ToArray();
        return parts.Length is 1 or 2 && sizes.All(n => n > 0) ? sizes
            : throw new OptionsException($"--image-size '{value}' is not H or HxW in positive pixels; write e.g. --image-size 224 or --image-size 32x48");
    }

    /// <summary>Parses comma-separated finite numbers such as <c>0.485,0.456,0.406</c>.</summary>
    private static float[] ParseFloats(string flag, string value)
    {
        var parts = value.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]))
                throw new OptionsException($"{flag} '{value}' must be numbers separated by commas, one or one per channel, e.g. {flag} 0.485,0.456,0.406");
        return values;
    }
}
