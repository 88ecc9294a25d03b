namespace Shrink.Recipes;

/// <summary>
/// A recipe that cannot run as written: one line naming the file and line, the stage (index and technique)
/// when the problem is inside one, and the key, e.g.
/// <c>prune.yaml:9: stage 2 (prune-unstructured), options.sparsty: unknown key; known keys: …</c>.
/// </summary>
public sealed class RecipeException : ShrinkUserException
{
    public RecipeException(string source, long line, string? stage, string key, string problem, Exception? inner = null)
        : base($"{Text.Message.Name(source, 200)}:{line}: {(stage is null ? "" : stage + ", ")}{key}: {problem}", inner)
        => (Source, Line, Stage, Key) = (source, line, stage, key);

    /// <summary>The recipe file (or the name given for text that came from elsewhere).</summary>
    public new string Source { get; }

    /// <summary>1-based line of the offending key or value; 0 when the problem has no place in the file.</summary>
    public long Line { get; }

    /// <summary>"stage 2 (prune-unstructured)", or null for the recipe's header.</summary>
    public string? Stage { get; }

    /// <summary>The key path, e.g. <c>options.distillation.alpha</c> or <c>data.calibration</c>.</summary>
    public string Key { get; }
}
