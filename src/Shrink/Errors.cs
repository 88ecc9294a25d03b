using Shrink.Text;

namespace Shrink;

/// <summary>
/// Base of the errors a user can mend: a bad file, a bad option, missing data.
/// The CLI prints the message as one line and exits with code 2.
/// Internal invariants use <c>Debug.Assert</c>; API misuse uses <see cref="ArgumentException"/>.
/// </summary>
public abstract class ShrinkUserException : Exception
{
    protected ShrinkUserException(string message, Exception? inner = null) : base(message, inner) => Wording = OptionText.Plain(message);

    /// <summary>An error whose message names options-record properties (<see cref="OptionText"/>); <see cref="Exception.Message"/> says them in words.</summary>
    protected ShrinkUserException(OptionText wording, Exception? inner = null) : base(wording.ToString(), inner) => Wording = wording;

    /// <summary>
    /// The message with the options it names kept as <see cref="OptionName"/>s: <see cref="Exception.Message"/> is its
    /// library wording; the CLI renders it with the flag that sets each option.
    /// </summary>
    public OptionText Wording { get; }
}

/// <summary>A model file that cannot be read: not ONNX, truncated, corrupt, or inconsistent.</summary>
public sealed class ModelFormatException : ShrinkUserException
{
    public ModelFormatException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// An option or configuration value out of range or unknown; the message names the option. Library code
/// names options by their property in the options record (<see cref="For"/>: "sparsity must be in [0, 1), got
/// 1.5"), never by a command-line flag; the CLI, which knows its flags, renders <see cref="Option"/> as the
/// flag that set it and recipes as the key. A message that names options inside it is an <see cref="OptionText"/>
/// (<see cref="ShrinkUserException.Wording"/>), which the CLI renders the same way.
/// </summary>
public sealed class OptionsException : ShrinkUserException
{
    public OptionsException(string message) : base(message) { }

    /// <summary>An error whose message names options within it ("no checkpoint at P; start the run without {Resume}").</summary>
    public OptionsException(OptionText message) : base(message) { }

    private OptionsException(string option, string problem) : base(OptionText.Of($"{OptionName.Of(option)} {problem}"))
    {
        Option = option;
        Problem = problem;
    }

    /// <summary>The options-record property the message is about ("Sparsity", "ChannelMultiple"), or null.</summary>
    public string? Option { get; }

    /// <summary>What is wrong with <see cref="Option"/>, without its name ("must be in [0, 1), got 1.5").</summary>
    public string? Problem { get; }

    /// <summary>An error about the property <paramref name="option"/> of an options record (give it with <c>nameof</c>).</summary>
    public static OptionsException For(string option, string problem) => new(option, problem);

    /// <summary>"ChannelMultiple" → "channel-multiple": the kebab-case key of a property (flags and recipe keys).</summary>
    public static string Kebab(string property) =>
        string.Concat(property.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString()));

    /// <summary>"ChannelMultiple" → "channel multiple": a property in words, for library messages.</summary>
    public static string Words(string property) => Kebab(property).Replace('-', ' ');
}

/// <summary>Input data that is missing, of the wrong shape, or corrupt.</summary>
public sealed class DataException : ShrinkUserException
{
    public DataException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>An error whose message names options within it (where to give the data, say).</summary>
    public DataException(OptionText message, Exception? inner = null) : base(message, inner) { }
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

/// <summary>
/// The machine refused an operation on a file: read-only file system, disk full, a name too long,
/// no permission. Not a bug: the message names the path and the cause (exit code 2).
/// </summary>
public sealed class EnvironmentFailureException : ShrinkUserException
{
    public EnvironmentFailureException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>Wraps a file-system error raised while <paramref name="doing"/> (e.g. "write 'out.onnx'").</summary>
    public static EnvironmentFailureException From(string doing, Exception e) =>
        new($"cannot {doing}: {Cause(e)}; {Hint(e)}", e);

    /// <summary>True for the exceptions the file system raises.</summary>
    public static bool IsFileSystem(Exception e) => e is IOException or UnauthorizedAccessException;

    private static string Cause(Exception e)
    {
        if (e is UnauthorizedAccessException) return "permission denied";
        if (e is FileNotFoundException) return "no file can be created there";  // ENOENT on creating a file in a directory that exists: /proc, /sys
        var m = e.Message;
        var cut = m.IndexOf(" : '", StringComparison.Ordinal);  // .NET appends " : 'PATH'"; the path is named already
        return Text.Message.OneLine(cut > 0 ? m[..cut] : m, 300).TrimEnd('.');
    }

    private static string Hint(Exception e) => (e.HResult & 0xFFFF, e) switch
    {
        (28, _) => "free some disk space or write elsewhere",
        (30, _) => "the file system is read-only; write elsewhere",
        (_, PathTooLongException) or (36, _) => "use a shorter file name",
        (_, UnauthorizedAccessException) => "check the permissions, or write elsewhere",
        (_, DirectoryNotFoundException) => "create the directory first",
        (_, FileNotFoundException) => "it is a file system that takes no new files (as /proc and /sys are); write elsewhere",
        _ => "check the path and the file system",
    };
}

/// <summary>
/// A result whose fidelity to its input model is below the bound the user set
/// (<see cref="Evaluation.FidelityOptions.MinFidelity"/>): names the output, its cosine and the bound; nothing is written.
/// </summary>
public sealed class FidelityException : ShrinkUserException
{
    public FidelityException(Evaluation.OutputFidelity worst, double bound, OptionText message) : base(message) => (Worst, Bound) = (worst, bound);

    /// <summary>The output with the lowest cosine similarity.</summary>
    public Evaluation.OutputFidelity Worst { get; }

    /// <summary>The bound it fell below.</summary>
    public double Bound { get; }
}
