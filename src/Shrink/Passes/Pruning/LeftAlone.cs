using System.Text.RegularExpressions;
using Shrink.Text;

namespace Shrink.Passes.Pruning;

/// <summary>
/// The channel groups structured pruning leaves alone, and why. In the notes, at <see cref="NotesLevel.Normal"/>, one
/// line per kind of reason (the reason with the node names taken out): a reason met once reads
/// <c>left alone: GROUP: REASON</c>; one met by several groups gives their count, the reason and a few of them. At
/// <see cref="NotesLevel.Detailed"/> every group has its own line.
/// </summary>
public sealed partial class LeftAlone
{
    /// <summary>How many groups a summary line names.</summary>
    public const int Examples = 3;

    private readonly List<(string Group, string Reason)> _entries = new();

    /// <summary>Every group left alone, with its reason, in the order they were found.</summary>
    public IReadOnlyList<(string Group, string Reason)> Entries => _entries;

    public void Add(string group, string reason) => _entries.Add((group, reason));

    /// <summary>The notes at the context's <see cref="PassContext.Verbosity"/>, added to <paramref name="context"/>.</summary>
    public void WriteTo(PassContext context)
    {
        if (context.Verbosity == NotesLevel.Detailed)
        {
            foreach (var (group, reason) in _entries) context.Notes.Add($"left alone: {group}: {reason}");
            return;
        }
        foreach (var kind in _entries.GroupBy(e => Kind(e.Reason)))
        {
            var entries = kind.ToList();
            if (entries.Count == 1) context.Notes.Add($"left alone: {entries[0].Group}: {entries[0].Reason}");
            else context.Note(Summary(kind.Key, entries));
        }
    }

    private static OptionText Summary(string kind, List<(string Group, string Reason)> entries)
    {
        var names = string.Join(", ", entries.Take(Examples).Select(e => Short(e.Group)));
        var more = entries.Count > Examples ? $" and {entries.Count - Examples} more" : "";
        return OptionText.Of($"left alone: {entries.Count} groups: {kind} (e.g. {names}{more}; each one with {OptionName.Of(nameof(PassContext.Verbosity))} detailed)");
    }

    /// <summary>The reason with the names it quotes taken out, so that groups left alone for the same reason share one line.</summary>
    public static string Kind(string reason) => Quoted().Replace(reason, "'…'");

    /// <summary>A group's name for a summary line: its first producer, and how many more there are.</summary>
    private static string Short(string group)
    {
        var producers = group.Split('+');
        return producers.Length == 1 ? group : $"{producers[0]} (+{producers.Length - 1})";
    }

    [GeneratedRegex("'[^']*'")]
    private static partial Regex Quoted();
}
