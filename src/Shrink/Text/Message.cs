using System.Globalization;
using System.Text;

namespace Shrink.Text;

/// <summary>
/// Makes text taken from a file safe inside a one-line error message: control characters escaped, long
/// names cut, long lists shortened. Messages stay one line however hostile the file.
/// </summary>
public static class Message
{
    /// <summary>
    /// <paramref name="s"/> with control characters escaped (<c>\n</c>, <c>\t</c>, otherwise <c>\xNN</c>; the Unicode
    /// line and paragraph separators as <c>\u2028</c>, <c>\u2029</c>) and, past <paramref name="max"/> characters, cut
    /// with "…(+N chars)" naming how many characters were left out.
    /// </summary>
    public static string Name(string s, int max = 80)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        var keep = Math.Min(s.Length, max);
        if (keep < s.Length && keep > 0 && char.IsHighSurrogate(s[keep - 1])) keep--; // never split a surrogate pair
        var b = new StringBuilder(keep + 16);
        for (var i = 0; i < keep; i++) Append(b, s[i]);
        if (keep < s.Length) b.Append("…(+").Append((s.Length - keep).ToString(CultureInfo.InvariantCulture)).Append(" chars)");
        return b.ToString();
    }

    /// <summary>
    /// The first <paramref name="max"/> items joined with ", ", then "and N more" when there are more. The items
    /// are used as given: pass names from a file through <see cref="Name"/> first.
    /// </summary>
    public static string List(IEnumerable<string> items, int max = 10)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        var shown = new List<string>();
        var more = 0;
        foreach (var item in items)
            if (shown.Count < max) shown.Add(item); else more++;
        var joined = string.Join(", ", shown);
        if (more == 0) return joined;
        return shown.Count == 0 ? $"{more} more" : $"{joined} and {more} more";
    }

    /// <summary>A whole message on one line: control characters escaped as in <see cref="Name"/>, and cut in the middle past <paramref name="max"/> characters.</summary>
    public static string OneLine(string message, int max = 1000)
    {
        ArgumentNullException.ThrowIfNull(message);
        var escaped = Escape(message.TrimEnd('\r', '\n'));
        if (escaped.Length <= max) return escaped;
        var half = max / 2;
        return $"{escaped[..half]} …({(escaped.Length - 2 * half).ToString("N0", CultureInfo.InvariantCulture)} chars cut)… {escaped[^half..]}";
    }

    /// <summary><paramref name="s"/> with control characters escaped as in <see cref="Name"/>, never cut.</summary>
    public static string Escape(string s)
    {
        ArgumentNullException.ThrowIfNull(s);
        if (!s.Any(c => char.IsControl(c) || c is '\u2028' or '\u2029')) return s;
        var b = new StringBuilder(s.Length + 16);
        foreach (var c in s) Append(b, c);
        return b.ToString();
    }

    private static void Append(StringBuilder b, char c)
    {
        switch (c)
        {
            case '\n': b.Append("\\n"); break;
            case '\t': b.Append("\\t"); break;
            case '\u2028' or '\u2029': b.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture)); break;
            default:
                if (char.IsControl(c)) b.Append("\\x").Append(((int)c).ToString("X2", CultureInfo.InvariantCulture));
                else b.Append(c);
                break;
        }
    }
}
