using Shrink.Data;
using Shrink.Ir;
using Shrink.Runtime;

namespace Shrink.Techniques;

/// <summary>
/// A compression technique as a library entry point: a model, typed options and the services it needs in;
/// a new model, typed artifacts and notes out. The input model is never modified. Each technique has a
/// stable kebab-case <see cref="Id"/> — the stage name in recipes — and an options record whose defaults are
/// the CLI's defaults. Techniques that train live in <c>Shrink.Training</c> and register themselves there.
/// </summary>
public interface ITechnique
{
    /// <summary>Stable kebab-case id ("prune", "quantize", "cluster"), the stage name in recipes.</summary>
    string Id { get; }

    /// <summary>One line for listings and dry runs.</summary>
    string Summary { get; }

    /// <summary>The options record this technique takes; a new instance holds the defaults.</summary>
    Type OptionsType { get; }

    /// <summary>
    /// Checks the options against the inputs without running anything (a dry run): returns the reasons it
    /// cannot run, or an empty list. Bad options throw <see cref="OptionsException"/> as in <see cref="Run"/>.
    /// </summary>
    IReadOnlyList<string> Check(Model model, object options, TechniqueInputs inputs) => Array.Empty<string>();

    /// <summary>Runs the technique on a copy of <paramref name="model"/>.</summary>
    TechniqueResult Run(Model model, object options, TechniqueInputs inputs, TechniqueSession session);
}

/// <summary>A technique with its options type known at compile time.</summary>
public abstract class Technique<TOptions> : ITechnique where TOptions : class, new()
{
    public abstract string Id { get; }
    public abstract string Summary { get; }
    public Type OptionsType => typeof(TOptions);

    public virtual IReadOnlyList<string> Check(Model model, TOptions options, TechniqueInputs inputs) => Array.Empty<string>();

    public abstract TechniqueResult Run(Model model, TOptions options, TechniqueInputs inputs, TechniqueSession session);

    IReadOnlyList<string> ITechnique.Check(Model model, object options, TechniqueInputs inputs) => Check(model, Cast(options), inputs);

    TechniqueResult ITechnique.Run(Model model, object options, TechniqueInputs inputs, TechniqueSession session) =>
        Run(model, Cast(options), inputs, session);

    private TOptions Cast(object options) => options as TOptions
        ?? throw new ArgumentException($"technique '{Id}' takes {typeof(TOptions).Name}, not {options?.GetType().Name ?? "null"}", nameof(options));
}

/// <summary>
/// The data and runtime settings a technique may use: data (fine-tuning, accuracy or fidelity, data-driven
/// criteria; labelled, or inputs only, when fine-tuning distills from the original model), calibration samples
/// (static quantization), and the ONNX Runtime settings of its measurements.
/// </summary>
public sealed record TechniqueInputs
{
    public static TechniqueInputs None { get; } = new();

    /// <summary>
    /// Training and test splits, or null when the technique runs data-free. Without labels
    /// (<see cref="IDataSource.ClassCount"/> null) fine-tuning distills from the model before compression.
    /// </summary>
    public DataSplits? Data { get; init; }

    /// <summary>Calibration samples for static quantization; null calibrates on <see cref="Data"/>'s training set.</summary>
    public Passes.Quantization.CalibrationSet? Calibration { get; init; }

    public RunnerOptions Runner { get; init; } = new();

    /// <summary>The model to distill from while fine-tuning (the options say how: temperature, α), or null.</summary>
    public Model? Teacher { get; init; }

    /// <summary>Where <see cref="Teacher"/> came from, for messages.</summary>
    public string TeacherSource { get; init; } = "the teacher";

    /// <summary>
    /// The model before compression, which fine-tuning on data without labels distills from (when no
    /// <see cref="Teacher"/> is given); a technique sets it to the model it was given (<see cref="WithOriginal"/>).
    /// </summary>
    public Model? Original { get; init; }

    /// <summary>These inputs with <paramref name="model"/> as <see cref="Original"/>, unless one is already set.</summary>
    public TechniqueInputs WithOriginal(Model model) => Original is null ? this with { Original = model } : this;

    /// <summary>The data, or an <see cref="OptionsException"/> saying that <paramref name="what"/> needs it.</summary>
    public DataSplits RequireData(string what) =>
        Data ?? throw new OptionsException($"{what} needs data; give the technique a data set");
}

/// <summary>What a technique produced: the new model, its artifacts (masks, kept channels, ranges, codebooks, ranks) and notes for the user.</summary>
public sealed record TechniqueResult(Model Model, IReadOnlyList<IArtifact> Artifacts, IReadOnlyList<string> Notes)
{
    /// <summary>The first artifact of type <typeparamref name="T"/>, or null.</summary>
    public T? Artifact<T>() where T : class, IArtifact => Artifacts.OfType<T>().FirstOrDefault();
}

/// <summary>
/// A typed, versioned, serialisable record of what a technique decided (which weights it zeroed, which
/// channels it kept, the quantization parameters, the codebooks, the ranks): JSON through
/// <see cref="Artifacts.ToJson"/>, so a later run or a report can read exactly what ran.
/// </summary>
public interface IArtifact
{
    /// <summary>Kebab-case kind ("pruning-masks", "kept-channels", "quantization-parameters"); a computed property (<c>=> "…"</c>), as is <see cref="Version"/>.</summary>
    string Kind { get; }

    /// <summary>Version of the artifact's schema; readers refuse versions they do not know.</summary>
    int Version { get; }
}
