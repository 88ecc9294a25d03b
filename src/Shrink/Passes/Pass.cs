using Shrink.Ir;

namespace Shrink.Passes;

/// <summary>What a pass may need besides the model: options by pass id, a log, later data and a trainer.</summary>
public sealed class PassContext
{
    /// <summary>Messages a pass wants the user to see (layers left alone, and why).</summary>
    public List<string> Notes { get; } = new();
}

/// <summary>The result of a pass: the model (edited in place or new), whether it changed, and its counters.</summary>
public sealed record PassResult(Model Model, bool Modified, IReadOnlyDictionary<string, long> Stats);

/// <summary>
/// A compression or clean-up technique as a graph-to-graph transformation. Each pass has a kebab-case
/// <see cref="Id"/> (the same name in the CLI, recipes and docs) and documents its characteristics:
/// needs data? needs training? changes shapes? (STYLE: onnx-ir <c>PassResult</c>, MLIR <c>Passes.td</c>)
/// </summary>
public interface IPass
{
    string Id { get; }

    /// <summary>Returns null when the pass can run on the model, else the reason it cannot.</summary>
    string? CheckPreconditions(Model model) => null;

    PassResult Run(Model model, PassContext context);
}

/// <summary>A pass failed: names the pass and those that ran before it.</summary>
public sealed class PassFailedException : ShrinkUserException
{
    public PassFailedException(string pass, IReadOnlyList<string> before, string reason, Exception? inner = null)
        : base($"pass '{pass}' failed{(before.Count > 0 ? $" (after {string.Join(", ", before)})" : "")}: {reason}", inner) { }
}
