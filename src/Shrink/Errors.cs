namespace Shrink;

/// <summary>
/// Base of the errors a user can mend: a bad file, a bad option, missing data.
/// The CLI prints <see cref="Exception.Message"/> as one line and exits with code 2.
/// Internal invariants use <c>Debug.Assert</c>; API misuse uses <see cref="ArgumentException"/>.
/// </summary>
public abstract class ShrinkUserException : Exception
{
    protected ShrinkUserException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A model file that cannot be read: not ONNX, truncated, corrupt, or inconsistent.</summary>
public sealed class ModelFormatException : ShrinkUserException
{
    public ModelFormatException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>An option or configuration value out of range or unknown; the message names the option.</summary>
public sealed class OptionsException : ShrinkUserException
{
    public OptionsException(string message) : base(message) { }
}

/// <summary>Input data that is missing, of the wrong shape, or corrupt.</summary>
public sealed class DataException : ShrinkUserException
{
    public DataException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A graph that fails validation: dangling input, cycle, type mismatch, unsupported op.</summary>
public sealed class GraphValidationException : ShrinkUserException
{
    public GraphValidationException(IReadOnlyList<string> problems)
        : base(problems.Count == 1 ? problems[0] : $"{problems[0]} (and {problems.Count - 1} more problem(s))")
        => Problems = problems;

    /// <summary>Every problem found, one line each.</summary>
    public IReadOnlyList<string> Problems { get; }
}

/// <summary>An error raised by ONNX Runtime, wrapped once at the interop layer.</summary>
public sealed class RuntimeFailureException : ShrinkUserException
{
    public RuntimeFailureException(string message, Exception? inner = null) : base(message, inner) { }
}
