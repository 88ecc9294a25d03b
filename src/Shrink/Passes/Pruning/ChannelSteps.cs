using Shrink.Ir;

namespace Shrink.Passes.Pruning;

/// <summary>
/// A layer with weights as channels see it: its weight and the weight's output and input channel axes
/// (from the op registry), its convolution groups, whether it works on convolution maps, and its bias.
/// </summary>
public sealed record LayerSpec(Value Weight, int OutAxis, int InAxis, int ConvGroups, bool Spatial, Value? Bias);

/// <summary>
/// What the dependency analysis (<see cref="ChannelFlow"/>) decided for one node that makes or reads followed
/// channels, in topological order: the data the cut (<see cref="ChannelCut"/>) replays, op by op, to slice
/// tensors and rewrite sizes. A node the analysis did not follow gets an <see cref="UnfollowedStep"/>.
/// </summary>
public abstract record ChannelStep(Node Node);

/// <summary>A layer that makes a group's channels; <paramref name="Reads"/> is set when it also reads followed channels.</summary>
public sealed record LayerStep(Node Node, LayerSpec Spec, ChannelConsumer? Reads) : ChannelStep(Node);

/// <summary>A depthwise convolution: its weight and bias are per channel of <paramref name="Input"/>, and its group count is the channel count.</summary>
public sealed record DepthwiseStep(Node Node, Value Input) : ChannelStep(Node);

/// <summary>Per-channel parameters (the op registry's <c>ChannelInputs</c>) indexed like <paramref name="Input"/>'s channels.</summary>
public sealed record NormalizationStep(Node Node, Value Input) : ChannelStep(Node);

/// <summary>
/// Channels pass through unchanged (an activation with f(0) = 0, pooling, a reduction over spatial axes);
/// <paramref name="Spatial"/> is the output's layout kind.
/// </summary>
public sealed record FollowStep(Node Node, Value Input, bool Spatial) : ChannelStep(Node);

/// <summary>An Add of a per-feature constant (input <paramref name="Parameter"/>) to <paramref name="Input"/>.</summary>
public sealed record BiasStep(Node Node, int Parameter, Value Input) : ChannelStep(Node);

/// <summary>A residual Add: both inputs carry the same channels, position by position.</summary>
public sealed record TieStep(Node Node, Value A, Value B) : ChannelStep(Node);

/// <summary>A Concat along the channel axis.</summary>
public sealed record ConcatStep(Node Node) : ChannelStep(Node);

/// <summary>A Split along the channel axis: its sizes are rewritten to the kept channels of each part.</summary>
public sealed record SplitStep(Node Node, Value Input) : ChannelStep(Node);

/// <summary>A Slice (of the channel axis or of others): its bounds are rewritten, or recomputed when they come from Shape.</summary>
public sealed record SliceStep(Node Node, Value Input) : ChannelStep(Node);

/// <summary>A Flatten, or a Reshape that flattens (<paramref name="Reshape"/>): a channel becomes a block of features.</summary>
public sealed record FlattenStep(Node Node, Value Input, bool Reshape) : ChannelStep(Node);

/// <summary>The first Reshape of a channel shuffle, into <paramref name="Groups"/> groups.</summary>
public sealed record ShuffleStep(Node Node, Value Input, int Groups) : ChannelStep(Node);

/// <summary>The Transpose of a channel shuffle.</summary>
public sealed record TransposeStep(Node Node, Value Input) : ChannelStep(Node);

/// <summary>The last Reshape of a channel shuffle, back to [N, C, H, W].</summary>
public sealed record UnshuffleStep(Node Node, Value Input) : ChannelStep(Node);

/// <summary>A node that reads followed values but was not followed: its groups are left alone, and after the cut it must read exactly what it read before.</summary>
public sealed record UnfollowedStep(Node Node) : ChannelStep(Node);
