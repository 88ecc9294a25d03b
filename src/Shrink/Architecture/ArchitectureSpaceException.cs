namespace Shrink.Architecture;

/// <summary>
/// A space file that cannot be searched as written, or a space that can build an invalid network for the data: one line
/// naming the file, the line and the key, e.g. <c>cnn.yaml:7: stages[0].activation[1]: must be one of relu, …, not 'swish'</c>.
/// </summary>
public sealed class ArchitectureSpaceException : ShrinkUserException
{
    public ArchitectureSpaceException(string source, long line, string key, string problem, Exception? inner = null)
        : base($"{Text.Message.Name(source, 200)}:{line}: {key}: {problem}", inner) => (Source, Line, Key) = (source, line, key);

    internal ArchitectureSpaceException(Recipes.RecipeException e) : base(e.Message, e) => (Source, Line, Key) = (e.Source, e.Line, e.Key);

    /// <summary>The space file (or the name given for text that came from elsewhere).</summary>
    public new string Source { get; }

    /// <summary>1-based line of the offending key or value.</summary>
    public long Line { get; }

    /// <summary>The key path, e.g. <c>stages[1].stride</c>.</summary>
    public string Key { get; }
}
