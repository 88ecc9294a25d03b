using Shrink.Techniques;

namespace Shrink.Recipes;

/// <summary>
/// A compression recipe: the input model, the data, and an ordered list of stages, each a registered
/// technique (<see cref="TechniqueRegistry"/>) with its typed options record. Stage <c>k</c>'s input is stage
/// <c>k − 1</c>'s model. Read one with <see cref="Load"/>, build the one-stage recipe of a command with
/// <see cref="FromStage"/>, write one with <see cref="RecipeWriter"/>, run one with <see cref="RecipeRunner"/>.
/// </summary>
/// <remarks>
/// The file is YAML, <c>version: 1</c> or <c>2</c> (version 2 adds the data keys <c>train-limit</c>, <c>teacher-zoo</c> and
/// <c>teacher-seed</c>; a recipe is written with the lowest version that holds it, so older Shrinks read what they can).
/// Keys are kebab-case throughout (an options record's <c>LearningRate</c> is <c>learning-rate</c>); enum values are
/// written the same way (<c>min-max</c>) and read case- and hyphen-blind. Paths are relative to the recipe file's directory; <c>fashion-mnist: embedded</c> is the
/// subset built into Shrink. Unknown keys, wrong types and unknown techniques are refused with one line naming the
/// file and line, the stage and the key (<see cref="RecipeException"/>). A lock file (<c>recipe.lock.yaml</c>) is a
/// recipe too: its <c>sha256</c> keys are checked before anything runs.
/// <code>
/// version: 1
/// model: lenet5.onnx            # or: model: { zoo: lenet5, seed: 0 }
/// data:
///   fashion-mnist: embedded     # a directory of the four IDX files, or embedded; or source: a file, directory or dataset YAML
/// stages:
///   - technique: prune-unstructured
///     options: { sparsity: 0.8 }
///   - technique: quantize-dynamic
/// </code>
/// </remarks>
public sealed record Recipe
{
    /// <summary>The newest recipe format this Shrink reads and writes (it reads every version from 1).</summary>
    public const int CurrentVersion = 2;

    /// <summary>The version the file was read as; <see cref="RecipeWriter"/> writes the lowest version that holds the recipe.</summary>
    public int Version { get; init; } = CurrentVersion;

    public RecipeModel Model { get; init; } = new();

    public RecipeData Data { get; init; } = new();

    public RecipeRuntime Runtime { get; init; } = new();

    public IReadOnlyList<RecipeStage> Stages { get; init; } = Array.Empty<RecipeStage>();

    /// <summary>The tool that wrote this recipe as a lock file ("shrink 1.2.0"), or null.</summary>
    public string? Tool { get; init; }

    /// <summary>Where the recipe came from, for messages (its path, or a name).</summary>
    public string Source { get; init; } = "recipe";

    /// <summary>The line of each header key path ("model.path", "data.calibration"), for messages about what they name.</summary>
    internal IReadOnlyDictionary<string, long> Lines { get; init; } = new Dictionary<string, long>();

    /// <summary>
    /// Reads and checks the recipe at <paramref name="path"/>: every stage's technique must be registered (register
    /// the techniques that train first, <c>Shrink.Training.TrainingTechniques.Register()</c>), every key known,
    /// every value of its option's type, every named file present.
    /// </summary>
    public static Recipe Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e))
        {
            throw new RecipeException(path, 0, null, "(file)", File.Exists(path) || Directory.Exists(path) ? $"cannot be read ({e.Message})" : "does not exist; give the path of a recipe YAML file", e);
        }
        return Parse(text, path, Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>Reads a recipe from YAML text; relative paths are resolved against <paramref name="baseDirectory"/> (default: the current directory).</summary>
    public static Recipe Parse(string yaml, string source = "recipe", string? baseDirectory = null) =>
        RecipeReader.Parse(yaml, source, Path.GetFullPath(baseDirectory ?? Directory.GetCurrentDirectory()));

    /// <summary>
    /// The one-stage recipe of a command: <paramref name="technique"/> (a registered id) with <paramref name="options"/>
    /// (of its <see cref="ITechnique.OptionsType"/>) on <paramref name="model"/> with <paramref name="data"/>. Running it
    /// gives the model the command writes.
    /// </summary>
    public static Recipe FromStage(RecipeModel model, RecipeData data, string technique, object options, RecipeRuntime? runtime = null)
    {
        var t = TechniqueRegistry.Find(technique);
        if (!t.OptionsType.IsInstanceOfType(options))
            throw new ArgumentException($"technique '{technique}' takes {t.OptionsType.Name}, not {options.GetType().Name}", nameof(options));
        return new Recipe
        {
            Version = data.RequiredVersion, Model = model.Resolved(), Data = data.Resolved(), Runtime = runtime ?? new(), Stages = [new RecipeStage(technique, options)], Source = "command",
        };
    }

    /// <summary>The recipe as YAML, with paths written relative to <paramref name="baseDirectory"/> (see <see cref="RecipeWriter"/>).</summary>
    public string ToYaml(string? baseDirectory = null) => RecipeWriter.ToYaml(this, baseDirectory);

    internal long LineOf(string key) => Lines.TryGetValue(key, out var line) ? line : 0;
}

/// <summary>
/// The input model: an ONNX file (<see cref="Path"/>) or a zoo network built with a seed (<see cref="Zoo"/>,
/// <see cref="Seed"/>). With <see cref="Sha256"/>, the model must hash to it.
/// </summary>
public sealed record RecipeModel
{
    public string? Path { get; init; }
    public string? Zoo { get; init; }
    public int Seed { get; init; }

    /// <summary>Lower-case hex SHA-256 of the file (with its external data files, in the order it names them), or of the zoo model's ONNX bytes.</summary>
    public string? Sha256 { get; init; }

    public static RecipeModel File(string path) => new() { Path = System.IO.Path.GetFullPath(path) };

    public static RecipeModel FromZoo(string name, int seed = 0) => new() { Zoo = name, Seed = seed };

    public override string ToString() => Path is { } p ? p : $"zoo model {Zoo} (seed {Seed})";

    internal RecipeModel Resolved() => Path is null ? this : this with { Path = System.IO.Path.GetFullPath(Path) };
}

/// <summary>
/// The data of a recipe: Fashion-MNIST (a directory of the four IDX files, or <c>embedded</c>), or any other data
/// (<see cref="Source"/>: a file, a directory or a YAML dataset file, opened by <see cref="Shrink.Data.DataSources.Open"/>
/// with <see cref="Options"/> for the input model), for training, accuracy or fidelity, and calibration, optionally cut to
/// its first <see cref="TrainLimit"/> training samples; calibration samples of their own (a <c>.npy</c> array or any data);
/// a teacher to distill from (an ONNX file, or a zoo model built with a seed). Each may carry the SHA-256 it must match
/// (a lock file does).
/// </summary>
public sealed record RecipeData
{
    /// <summary>The value of <see cref="FashionMnist"/> that names the subset built into Shrink.</summary>
    public const string Embedded = Shrink.Data.FashionMnist.EmbeddedName;

    public string? FashionMnist { get; init; }

    /// <summary>SHA-256 of the four IDX files' bytes in the order train images, train labels, test images, test labels.</summary>
    public string? FashionMnistSha256 { get; init; }

    /// <summary>Any data <see cref="Shrink.Data.DataSources.Open"/> takes (not with <see cref="FashionMnist"/>): a file, a directory or a YAML dataset file. Version 2.</summary>
    public string? Source { get; init; }

    /// <summary>SHA-256 of <see cref="Source"/>: of the file, or of a directory's files (names and bytes, in ordinal order).</summary>
    public string? SourceSha256 { get; init; }

    /// <summary>How the data (<see cref="Source"/> or <see cref="FashionMnist"/>) and <see cref="Calibration"/> are read and split (<see cref="Shrink.Data.DataOptions"/>); null: the defaults. Version 2.</summary>
    public Shrink.Data.DataOptions? Options { get; init; }

    /// <summary>Train on the first N training images only (the commands' <c>--limit</c>); null: all of them. Version 2.</summary>
    public int? TrainLimit { get; init; }

    /// <summary>Calibration samples: a <c>.npy</c> array (axis 0 the samples), or any data <see cref="Source"/> could name (its training split).</summary>
    public string? Calibration { get; init; }
    public string? CalibrationSha256 { get; init; }

    /// <summary>How many calibration samples to take from <see cref="Calibration"/> (the first N).</summary>
    public int CalibrationSamples { get; init; } = 512;

    /// <summary>The teacher as an ONNX file (or see <see cref="TeacherZoo"/>).</summary>
    public string? Teacher { get; init; }

    /// <summary>The teacher as a zoo network built with <see cref="TeacherSeed"/> (untrained: <c>distill</c> trains it first). Version 2.</summary>
    public string? TeacherZoo { get; init; }

    /// <summary>The seed of <see cref="TeacherZoo"/>. Version 2.</summary>
    public int TeacherSeed { get; init; }

    /// <summary>SHA-256 of the teacher file, or of the zoo teacher's ONNX bytes.</summary>
    public string? TeacherSha256 { get; init; }

    /// <summary>
    /// The data section of a command's <c>--data</c> value and the options it is read with: Fashion-MNIST for no value,
    /// <c>embedded</c> or a directory of the four IDX files (as the recipes of earlier versions wrote it), else <see cref="Source"/>.
    /// </summary>
    public static RecipeData For(string? spec, Shrink.Data.DataOptions? options = null) =>
        spec is null || spec == Embedded || Directory.Exists(spec) && Shrink.Data.IdxFileSet.Find(spec) is { Missing.Count: 0 }
            ? new RecipeData { FashionMnist = spec, Options = options }
            : new RecipeData { Source = spec, Options = options };

    /// <summary>The lowest recipe version that holds this data section: 2 with other data than Fashion-MNIST, a training limit or a zoo teacher, else 1.</summary>
    public int RequiredVersion => TrainLimit is not null || TeacherZoo is not null || Source is not null || Options is not null ? 2 : 1;

    /// <summary>Where the teacher comes from, for messages and the distilled model's metadata: the file, the zoo name, or null.</summary>
    public string? TeacherSource => Teacher ?? TeacherZoo;

    internal RecipeData Resolved() => this with
    {
        FashionMnist = FashionMnist is null or Embedded ? FashionMnist : System.IO.Path.GetFullPath(FashionMnist),
        Source = Source is null ? null : System.IO.Path.GetFullPath(Source),
        Calibration = Calibration is null ? null : System.IO.Path.GetFullPath(Calibration),
        Teacher = Teacher is null ? null : System.IO.Path.GetFullPath(Teacher),
    };
}

/// <summary>ONNX Runtime settings of the measurements and calibration runs: intra-op threads (0: one per core) and symbolic dimension sizes.</summary>
public sealed record RecipeRuntime
{
    public int Threads { get; init; }
    public IReadOnlyDictionary<string, long> Dims { get; init; } = new Dictionary<string, long>();

    internal Runtime.RunnerOptions ToRunnerOptions() => new() { Threads = Threads, DimValues = Dims };
}

/// <summary>One stage: a registered technique's id and its options record (defaults filled in).</summary>
public sealed record RecipeStage(string Technique, object Options)
{
    /// <summary>The line of the stage's <c>technique</c> key (0 when built in code).</summary>
    internal long Line { get; init; }

    /// <summary>The line of each options key path ("options.sparsity"), for a technique's refusal of one of them.</summary>
    internal IReadOnlyDictionary<string, long> OptionLines { get; init; } = new Dictionary<string, long>();

    /// <summary>
    /// The recipe's words for a technique's refusal: the key an <see cref="OptionsException.For"/> names (by its property,
    /// as the recipe spells it, found among the stage's keys) and its line, else the stage's <c>options</c>.
    /// </summary>
    internal (string Key, long Line, string Problem) Place(OptionsException e)
    {
        if (e.Option is not { } option) return ("options", Line, e.Message);
        var key = YamlScalars.Kebab(option);
        var found = OptionLines.Keys.Where(k => k == $"options.{key}" || k.EndsWith($".{key}", StringComparison.Ordinal)).OrderBy(k => k.Length).FirstOrDefault();
        return (found ?? $"options.{key}", found is null ? Line : OptionLines[found], e.Problem ?? e.Message);
    }

    /// <summary>"stage 2 (prune-unstructured)" for the stage at 0-based <paramref name="index"/>.</summary>
    public static string Label(int index, string technique) => $"stage {index + 1} ({technique})";
}
