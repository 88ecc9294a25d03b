using Shrink.Techniques;

namespace Shrink.Passes.Pruning;

/// <summary>One pruned channel group: how many channels it had and the indices kept, ascending.</summary>
public sealed record ChannelSelection(long Channels, long[] Kept);

/// <summary>
/// The <c>kept-channels</c> artifact of <see cref="StructuredPrunePass"/>: for every channel group that lost
/// channels (by group name), which channels survive; groups left alone are not listed. <see cref="MaskOnly"/>:
/// the other channels were zeroed in place rather than cut out of the graph. An attention block that lost heads is listed
/// under its name (<see cref="AttentionBlock.Name"/>) with its head count and the kept heads.
/// </summary>
public sealed record KeptChannels : IArtifact
{
    public string Kind => "kept-channels";
    public int Version => 1;

    public IReadOnlyDictionary<string, ChannelSelection> Groups { get; init; } = new Dictionary<string, ChannelSelection>();

    public bool MaskOnly { get; init; }

    /// <summary>The kept indices of group <paramref name="name"/> (a missing group is API misuse: <see cref="KeyNotFoundException"/>).</summary>
    public long[] this[string name] => Groups[name].Kept;
}
