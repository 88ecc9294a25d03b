using System.Globalization;

namespace Shrink.Text;

/// <summary>
/// An options-record property named inside a message (<see cref="OptionText"/>): <see cref="Property"/> is its
/// name (give it with <c>nameof</c>), <see cref="Words"/> how the library says it ("RunDirectory" → "run directory").
/// A reader with names of its own for the options renders it otherwise (<see cref="OptionNaming"/>).
/// </summary>
public sealed record OptionName(string Property, string Words)
{
    /// <summary>The property <paramref name="property"/>, said in <paramref name="words"/> (default: <see cref="OptionsException.Words"/>).</summary>
    public static OptionName Of(string property, string? words = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(property);
        return new(property, words ?? OptionsException.Words(property));
    }

    public override string ToString() => Words;
}

/// <summary>How a reader of messages names the options they mention: the library says <see cref="OptionName.Words"/>.</summary>
public delegate string OptionNaming(OptionName option);

/// <summary>
/// A message that names options-record properties by their <see cref="OptionName"/>, not in fixed words, so each
/// reader names them its own way: <see cref="ToString"/> gives the library's words ("start the run without
/// resume"); <see cref="Render"/> with another <see cref="OptionNaming"/> gives, say, the command-line flag that
/// set each one. Made from an interpolated string whose <see cref="OptionName"/> holes are the options; other holes
/// are formatted as <c>$"…"</c> formats them, and a nested <see cref="OptionText"/> is rendered the same way.
/// </summary>
public sealed class OptionText
{
    private static readonly OptionNaming InWords = o => o.Words;

    private readonly string _format;
    private readonly object?[] _arguments;
    private readonly Func<string, string>? _after;

    private OptionText(string format, object?[] arguments, Func<string, string>? after = null) =>
        (_format, _arguments, _after) = (format, arguments, after);

    /// <summary>A message from an interpolated string, e.g. <c>$"no checkpoint at {path}; start the run without {OptionName.Of(nameof(TrainOptions.Resume))}"</c>.</summary>
    public static OptionText Of(FormattableString message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return new(message.Format, message.GetArguments());
    }

    /// <summary>A message that names no option.</summary>
    public static OptionText Plain(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return new("{0}", [message]);
    }

    /// <summary>The options the message names, in order (those of nested messages included).</summary>
    public IReadOnlyList<OptionName> Options =>
        _arguments.SelectMany(a => a switch
        {
            OptionName o => [o],
            OptionText t => t.Options,
            _ => Array.Empty<OptionName>(),
        }).ToList();

    /// <summary>The message with each option named by <paramref name="naming"/>.</summary>
    public string Render(OptionNaming naming)
    {
        ArgumentNullException.ThrowIfNull(naming);
        var arguments = _arguments.Select(a => a switch
        {
            OptionName o => naming(o),
            OptionText t => t.Render(naming),
            _ => a,
        }).ToArray();
        var text = string.Format(CultureInfo.CurrentCulture, _format, arguments);
        return _after is null ? text : _after(text);
    }

    /// <summary>The same message with <paramref name="edit"/> applied to its text once rendered (trimming a full stop, say).</summary>
    public OptionText Then(Func<string, string> edit)
    {
        ArgumentNullException.ThrowIfNull(edit);
        return new(_format, _arguments, _after is null ? edit : s => edit(_after(s)));
    }

    /// <summary>The message in the library's words.</summary>
    public override string ToString() => Render(InWords);
}
