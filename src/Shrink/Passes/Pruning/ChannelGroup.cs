using Shrink.Ir;

namespace Shrink.Passes.Pruning;

/// <summary>
/// One position along a value's channel axis: channel <see cref="Index"/> of channel group
/// <see cref="Group"/> (an id in <see cref="ChannelFlow"/>), and after a Flatten the feature
/// <see cref="Sub"/> within that channel's block.
/// </summary>
public readonly record struct ChannelRef(int Group, int Index, int Sub);

/// <summary>The channel of every position along a value's channel axis: axis 1 of convolution maps (<see cref="Spatial"/>), else the last axis.</summary>
public sealed record ChannelLayout(ChannelRef[] Refs, bool Spatial)
{
    public int Length => Refs.Length;

    /// <summary>
    /// The pruned channels are not zero here in the masked model: a gate (Sigmoid, HardSigmoid) of them, or what a
    /// depthwise layer or pooling made of such a gate. Only a Mul onto the same channels where they are zero may read
    /// it (a squeeze-excitation gate, SiLU's x · σ(x)); anything else that reads it leaves its groups alone.
    /// </summary>
    public bool NonZero { get; init; }
}

/// <summary>Where a layer makes the channels of a group: its weight's output axis.</summary>
public sealed record ChannelProducer(Node Layer, Value Weight, int Axis, Value? Bias);

/// <summary>
/// A per-channel tensor along the way (BatchNorm parameters, a depthwise Conv's weight and bias, a dense
/// layer's bias added after it), input <see cref="Index"/> of <see cref="Layer"/>, indexed like <see cref="Input"/>'s channels.
/// </summary>
public sealed record ChannelParameter(Node Layer, Value Tensor, int Axis, Value Input, int Index);

/// <summary>Where a layer reads channels: its weight's input axis, indexed like <see cref="Input"/>'s channels (per conv group when <see cref="ConvGroups"/> &gt; 1).</summary>
public sealed record ChannelConsumer(Node Layer, Value Weight, int Axis, Value Input, int ConvGroups);

/// <summary>
/// Channels that must be pruned together: those made by one producer (a layer with weights: Conv,
/// ConvTranspose, Gemm, MatMul), or by several whose outputs a residual Add ties position by position.
/// </summary>
public sealed class ChannelGroup
{
    internal ChannelGroup(int id) => Id = id;

    public int Id { get; }
    public List<ChannelProducer> Producers { get; } = new();

    /// <summary>Outputs of ReLU-like activations that carry this group's channels (read by the activation criteria).</summary>
    public List<Value> Activations { get; } = new();

    /// <summary>Why the group cannot be pruned safely, or null.</summary>
    public string? Blocker { get; set; }

    public long Channels { get; internal set; }

    /// <summary>Group counts of grouped convolutions that make these channels: every conv group must lose as many.</summary>
    public SortedSet<int> EqualBlocks { get; } = new();

    /// <summary>Group counts of grouped convolutions that read these channels: every conv group must lose the same positions.</summary>
    public SortedSet<int> PatternBlocks { get; } = new();

    /// <summary>The kept count must stay divisible by these (channel shuffles).</summary>
    public SortedSet<int> Divisors { get; } = new();

    /// <summary>A name for reports: the producers' layer names.</summary>
    public string Name => string.Join("+", Producers.Select(p => p.Layer.DisplayName));

    /// <summary>The key of plans and scores: <see cref="Name"/>, made unique with the group id where node names repeat.</summary>
    public string Key { get; internal set; } = "";
}

/// <summary>Raised while cutting channels when the graph would route them differently than in the masked model.</summary>
public sealed class ChannelConflictException : Exception
{
    public ChannelConflictException(IReadOnlySet<int> groups, string reason) : base(reason) => Groups = groups;

    /// <summary>Ids of the groups involved.</summary>
    public IReadOnlySet<int> Groups { get; }
}

/// <summary>A value in the middle of a channel shuffle ([N, g, C/g, H, W], or [N, C/g, g, H, W] once <see cref="Transposed"/>): the layout before it, and the groups.</summary>
public sealed record ChannelShuffle(ChannelLayout Layout, int Groups, bool Transposed);

/// <summary>Shorthand for the groups of <see cref="ChannelFlow.Analyze"/>.</summary>
public static class ChannelGroups
{
    public static IReadOnlyList<ChannelGroup> Find(Model model) => ChannelFlow.Analyze(model).Groups;
}
