using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Techniques;

namespace Shrink.Passes;

/// <summary>
/// What a pass may need besides the model and its options: where its notes go, the ONNX Runtime settings
/// of passes that run the model, and the artifacts of the passes before it (a calibration step's
/// <see cref="Quantization.ActivationRanges"/>, say). <see cref="PassPipeline"/> and <see cref="Pass.Run"/>
/// add each pass's artifacts, so a later pass finds what an earlier one decided.
/// </summary>
public sealed class PassContext
{
    private readonly List<IArtifact> _artifacts = new();

    /// <summary>Messages a pass wants the user to see (layers left alone, and why).</summary>
    public List<string> Notes { get; } = new();

    /// <summary>
    /// How notes name the options they mention (<see cref="Text.OptionText"/>; a technique passes on its session's
    /// <see cref="TechniqueSession.Naming"/>); null says them in the library's words.
    /// </summary>
    public Text.OptionNaming? Naming { get; init; }

    /// <summary>Adds a note that names options, rendered by <see cref="Naming"/>.</summary>
    public void Note(Text.OptionText note) => Notes.Add(Naming is null ? note.ToString() : note.Render(Naming));

    /// <summary>How much the notes say: a summary of what was left alone (<see cref="NotesLevel.Normal"/>), or every item.</summary>
    public NotesLevel Verbosity { get; init; }

    /// <summary>ONNX Runtime settings for passes that run the model (fold-constants evaluates constant subgraphs).</summary>
    public RunnerOptions Runner { get; init; } = new();

    /// <summary>Artifacts in the order they were added: given by the caller, or made by earlier passes.</summary>
    public IReadOnlyList<IArtifact> Artifacts => _artifacts;

    /// <summary>Adds an artifact for the passes that follow (input data such as activation ranges, or a pass's result).</summary>
    public PassContext Add(IArtifact artifact)
    {
        ArgumentNullException.ThrowIfNull(artifact);
        _artifacts.Add(artifact);
        return this;
    }

    /// <summary>The latest artifact of type <typeparamref name="T"/>, or null.</summary>
    public T? Artifact<T>() where T : class, IArtifact => _artifacts.OfType<T>().LastOrDefault();
}

/// <summary>How much a pass's or technique's notes say.</summary>
public enum NotesLevel
{
    /// <summary>What was left alone in short: per reason, the count and a few examples.</summary>
    Normal,

    /// <summary>Every layer or group left alone, each with its reason.</summary>
    Detailed,
}

/// <summary>
/// The result of a pass: the new model (the input is never modified), whether anything changed, its
/// counters, and its artifacts (masks, kept channels, quantization parameters, codebooks, ranks).
/// </summary>
public sealed record PassResult(Model Model, bool Modified, IReadOnlyDictionary<string, long> Stats)
{
    /// <summary>What the pass decided, as typed, versioned, serialisable records.</summary>
    public IReadOnlyList<IArtifact> Artifacts { get; init; } = Array.Empty<IArtifact>();

    /// <summary>The last artifact of type <typeparamref name="T"/>, or null.</summary>
    public T? Artifact<T>() where T : class, IArtifact => Artifacts.OfType<T>().LastOrDefault();
}

/// <summary>
/// A compression or clean-up technique as a graph-to-graph transformation. Each pass has a kebab-case
/// <see cref="Id"/> (the same name in the CLI, recipes and docs) and documents its characteristics:
/// needs data? needs training? changes shapes? <see cref="Run"/> never modifies the model it is given: it
/// returns a new one. (STYLE: onnx-ir <c>PassResult</c>, MLIR <c>Passes.td</c>)
/// </summary>
public interface IPass
{
    string Id { get; }

    /// <summary>Returns null when the pass can run on the model, else the reason it cannot.</summary>
    string? CheckPreconditions(Model model) => null;

    /// <summary>Runs the pass on a copy of <paramref name="model"/>, which stays as it is.</summary>
    PassResult Run(Model model, PassContext context);
}

/// <summary>
/// The base of Shrink's passes: <see cref="Run"/> clones the model once and hands the copy to
/// <see cref="RunInPlace"/>, which edits it. <see cref="PassPipeline"/> clones once for all its passes and
/// calls <see cref="RunInPlace"/> on its private copy, so a pipeline of N passes does not copy N times.
/// </summary>
public abstract class Pass : IPass
{
    public abstract string Id { get; }

    public virtual string? CheckPreconditions(Model model) => null;

    /// <summary>Runs the pass on a copy of <paramref name="model"/>; the pass's artifacts are added to <paramref name="context"/> too.</summary>
    public PassResult Run(Model model, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(context);
        var result = RunInPlace(model.Clone(), context);
        foreach (var a in result.Artifacts) context.Add(a);
        return result;
    }

    /// <summary>Edits <paramref name="model"/>, which the caller owns and gives up (a fresh copy), and returns it in the result.</summary>
    protected internal abstract PassResult RunInPlace(Model model, PassContext context);
}

/// <summary>A pass failed: names the pass and those that ran before it.</summary>
public sealed class PassFailedException : ShrinkUserException
{
    public PassFailedException(string pass, IReadOnlyList<string> before, string reason, Exception? inner = null)
        : base($"pass '{pass}' failed{(before.Count > 0 ? $" (after {string.Join(", ", before)})" : "")}: {reason}", inner) { }
}
