namespace Shrink.Passes.Pruning;

/// <summary>
/// The sparsity allocation of structured pruning: how many channels each group keeps — its own fraction
/// (<see cref="PruneScope.Layer"/>) or one threshold over all scores (<see cref="PruneScope.Global"/>) — rounded
/// up to the channel multiple and to the group counts of the grouped convolutions and shuffles around the
/// group, and which: the highest-scored.
/// </summary>
public static class ChannelAllocation
{
    /// <summary>The kept channels (sorted) of every group that loses some, by group key; groups without scores are noted and left alone.</summary>
    public static Dictionary<string, long[]> Plan(ChannelFlow flow, StructuredPruneOptions options, IChannelImportance importance, LeftAlone leftAlone)
    {
        var scored = new List<(ChannelGroup Group, double[] Scores)>();
        foreach (var g in flow.Groups.Where(g => g.Blocker is null))
        {
            if (importance.Score(flow, g) is { } s) scored.Add((g, s));
            else leftAlone.Add(g.Name, importance.Missing);
        }
        double? threshold = null;
        if (options.Scope == PruneScope.Global && scored.Count > 0)
        {
            var all = scored.SelectMany(s => s.Scores).Order().ToArray();
            threshold = all[Math.Min(all.Length - 1, (int)Math.Floor(options.Sparsity * all.Length))];
        }
        var plan = new Dictionary<string, long[]>();
        foreach (var (g, scores) in scored)
        {
            // Iterative schedules give the sparsity relative to the channel count before the first round.
            var reference = options.OriginalChannels?.GetValueOrDefault(g.Key) is > 0 and var r ? r : g.Channels;
            var target = threshold is { } t ? scores.Count(s => s >= t) : Math.Min(g.Channels, reference - (long)Math.Round(options.SparsityOf(g.Key) * reference));
            if (Choose(g, scores, target, options.ChannelMultiple) is { } keep) plan[g.Key] = keep;
        }
        return plan;
    }

    /// <summary>
    /// The channels to keep: about <paramref name="target"/>, rounded up to <paramref name="channelMultiple"/> and to
    /// the group counts of grouped convolutions and shuffles around the group; null when none go.
    /// </summary>
    public static long[]? Choose(ChannelGroup g, double[] scores, long target, int channelMultiple)
    {
        var blocks = g.PatternBlocks.Concat(g.EqualBlocks).Concat(g.Divisors).Distinct().ToList();
        var multiple = blocks.Aggregate((long)channelMultiple, (m, b) => m / Gcd(m, b) * b);
        var c = g.Channels;
        var kept = Math.Min(c, Math.Max(Math.Min(multiple, c), (target + multiple - 1) / multiple * multiple));
        if (kept == c || blocks.Any(b => kept % b != 0)) return null;
        IEnumerable<int> keep;
        if (g.PatternBlocks.FirstOrDefault() is var pattern and > 0)
        {
            // A grouped convolution reads these channels: every conv group keeps the same positions.
            var size = (int)(c / pattern);
            var local = Top(Enumerable.Range(0, size), l => Enumerable.Range(0, pattern).Sum(j => scores[j * size + l]), kept / pattern).ToList();
            keep = Enumerable.Range(0, pattern).SelectMany(j => local.Select(l => j * size + l));
        }
        else if (g.EqualBlocks.FirstOrDefault() is var equal and > 0)
        {
            // A grouped convolution makes these channels: every conv group keeps as many.
            var size = (int)(c / equal);
            keep = Enumerable.Range(0, equal).SelectMany(j => Top(Enumerable.Range(j * size, size), i => scores[i], kept / equal));
        }
        else keep = Top(Enumerable.Range(0, (int)c), i => scores[i], kept);
        return keep.Order().Select(i => (long)i).ToArray();
    }

    /// <summary>The <paramref name="count"/> highest-scored candidates, ties broken by position.</summary>
    private static IEnumerable<int> Top(IEnumerable<int> candidates, Func<int, double> score, long count) =>
        candidates.OrderByDescending(score).ThenBy(i => i).Take((int)count);

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);
}
