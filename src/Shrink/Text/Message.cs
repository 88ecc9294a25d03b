using System.Text;

namespace Shrink.Text;

/// <summary>
/// Makes text taken from files fit a one-line message: control characters escaped, long names and
/// long lists cut to a readable length with a count of what was left out.
/// </summary>
public static class Message
{
    /// <summary>A name (node, tensor, file) escaped and cut to <paramref name="max"/> characters.</summary>
    public static string Name(string s, int max = 80)
    {
        var escaped = Escape(s);
        return escaped.Length <= max ? escaped : $"{escaped[..max]}…(+{escaped.Length - max} chars)";
    }

    /// <summary>Items joined with ", ", each escaped and cut; past <paramref name="max"/> items, "and N more".</summary>
    public static string List(IEnumerable<string> items, int max = 10)
    {
        var shown = new List<string>();
        var more = 0;
        foreach (var item in items)
        {
            if (shown.Count < max) shown.Add(Name(item));
            else more++;
        }
        return more == 0 ? string.Join(", ", shown) : $"{string.Join(", ", shown)} and {more:N0} more";
    }

    /// <summary>A whole message on one line: control characters escaped, and cut in the middle past <paramref name="max"/> characters.</summary>
    public static string OneLine(string message, int max = 1000)
    {
        var escaped = Escape(message.TrimEnd('\r', '\n'));
        if (escaped.Length <= max) return escaped;
        var half = max / 2;
        return $"{escaped[..half]} …({escaped.Length - max:N0} chars cut)… {escaped[^half..]}";
    }

    /// <summary>Control characters as \n, \r, \t or \xNN; everything else unchanged.</summary>
    public static string Escape(string s)
    {
        if (!s.Any(char.IsControl)) return s;
        var b = new StringBuilder(s.Length + 8);
        foreach (var c in s)
            b.Append(c switch
            {
                '\n' => "\\n", '\r' => "\\r", '\t' => "\\t",
                _ when char.IsControl(c) => $"\\x{(int)c:X2}",
                _ => c.ToString(),
            });
        return b.ToString();
    }
}
