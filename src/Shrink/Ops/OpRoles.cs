using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>
/// Where a layer's parameters are and how they are laid out: the input holding the weight (and the bias,
/// when the node has one), the weight axes of the layer's output and input channels, its convolution
/// groups, and whether it works on convolution maps [N, C, spatial…] (channels on axis 1) or on dense
/// features (channels on the last axis). The input axis is the one the layer sums over with the
/// activations: block-wise quantization and N:M patterns run along it.
/// </summary>
/// <param name="Weight">Input index of the weight.</param>
/// <param name="Bias">Input index of the bias, or null when the node has none.</param>
/// <param name="OutputAxis">Weight axis of the output channels (Conv [O, I/g, k…]: 0; Gemm with transB [N, K]: 0; Gemm and MatMul [K, N]: 1; ConvTranspose [I, O/g, k…]: 1).</param>
/// <param name="InputAxis">Weight axis of the input channels.</param>
/// <param name="Groups">Convolution groups (1 for dense layers).</param>
/// <param name="Spatial">True for convolutions: the activations are [N, C, spatial…].</param>
public sealed record WeightLayout(int Weight, int? Bias, int OutputAxis, int InputAxis, int Groups, bool Spatial)
{
    /// <summary>The input holding the activations the layer reads: 0, or 1 for a MatMul whose constant is its left operand.</summary>
    public int Data { get; init; }

    /// <summary>The activations are read transposed (Gemm with transA): their features lie on axis 0, not on the last axis.</summary>
    public bool DataTransposed { get; init; }
}

/// <summary>Describes the parameters of one node (its attributes and which inputs are constant decide), or null when it has none.</summary>
public delegate WeightLayout? DescribeWeights(Node node);

/// <summary>How channels flow through an op: what structured pruning's dependency analysis may follow.</summary>
public enum ChannelFlowKind
{
    /// <summary>Reads channels in a way that cannot be followed channel by channel: the channels it reads stay as they are.</summary>
    Opaque,

    /// <summary>A layer with weights (Conv, ConvTranspose, Gemm, MatMul): reads channels along its weight's input axis, makes new ones along its output axis.</summary>
    Layer,

    /// <summary>Per-channel parameters (BatchNormalization): channel c of the output is channel c of the input, scaled and shifted.</summary>
    Normalization,

    /// <summary>Elementwise on each channel (unary activations): channel c of the output is f(channel c).</summary>
    Elementwise,

    /// <summary>Spatial pooling: every channel pooled on its own, on convolution maps only.</summary>
    Pool,

    /// <summary>Binary addition: a residual connection ties channels together, a constant vector is a per-feature bias.</summary>
    Add,

    /// <summary>Concatenation: along the channel axis the inputs' channels follow one another.</summary>
    Concat,

    /// <summary>Split: along the channel axis each output takes a run of channels.</summary>
    Split,

    /// <summary>Slice: along the channel axis the output takes a run of channels.</summary>
    Slice,

    /// <summary>Flatten: a channel becomes a block of features.</summary>
    Flatten,

    /// <summary>Reshape: a flattening, or the reshapes of a channel shuffle.</summary>
    Reshape,

    /// <summary>Transpose: the middle step of a channel shuffle.</summary>
    Transpose,

    /// <summary>Reductions over axes: over spatial axes only, the channels stay.</summary>
    Reduce,

    /// <summary>Reads only its input's shape, never its values (Shape).</summary>
    ShapeOnly,

    /// <summary>Pad: padding the spatial axes keeps every channel where it was.</summary>
    Pad,

    /// <summary>Binary multiplication: a gate onto the channels it was computed from ties them, a constant scalar scales them.</summary>
    Mul,
}

/// <summary>The part an op plays in static quantization (QDQ).</summary>
public enum QuantizationRole
{
    /// <summary>Stays in float.</summary>
    None,

    /// <summary>A layer whose constant weights are quantized (QLinearConv, QGemm, QLinearMatMul).</summary>
    Weighted,

    /// <summary>Only moves values (or takes a maximum): quantized with its input's scale and zero point.</summary>
    SameScale,

    /// <summary>Computes new values (averages, sums, concatenations of differently scaled inputs): quantized with its own output range.</summary>
    Requantizing,
}

/// <summary>The op knowledge of passes, from the <see cref="OpRegistry"/>: weights, channel flow and quantization role of a node.</summary>
public static class OpRoles
{
    /// <summary>The weight layout of a node, or null when its op has none (or its weight is not there).</summary>
    public static WeightLayout? Weights(Node node) => Schema(node)?.Weights?.Invoke(node);

    /// <summary>The weight layout of a layer (<see cref="ChannelFlowKind.Layer"/>: Conv, ConvTranspose, Gemm, MatMul), or null for other nodes.</summary>
    public static WeightLayout? Layer(Node node) => Schema(node) is { Channels: ChannelFlowKind.Layer, Weights: { } describe } ? describe(node) : null;

    /// <summary>How channels flow through the node (<see cref="ChannelFlowKind.Opaque"/> for ops Shrink does not know).</summary>
    public static ChannelFlowKind Channels(Node node) => Schema(node)?.Channels ?? ChannelFlowKind.Opaque;

    /// <summary>True when f(0) = 0 channel by channel: a zeroed channel stays zero through the node.</summary>
    public static bool KeepsZero(Node node) => Schema(node)?.KeepsZero?.Invoke(node) == true;

    /// <summary>True for gates (Sigmoid, HardSigmoid): f(0) ≠ 0, but a Mul onto the channels they were computed from keeps them zero.</summary>
    public static bool IsGate(Node node) => Schema(node)?.Gate == true;

    /// <summary>True for ReLU-like activations, whose zeros the activation criteria count.</summary>
    public static bool IsRectifier(Node node) => Schema(node)?.Rectifier == true;

    public static QuantizationRole Quantization(Node node) => Schema(node)?.Quantization ?? QuantizationRole.None;

    /// <summary>The default-domain op types with a quantization role, for passes that keep op-type sets.</summary>
    public static HashSet<string> OpsWith(QuantizationRole role) =>
        OpRegistry.KnownOps.Where(op => OpRegistry.Find("", op)?.Quantization == role).ToHashSet();

    /// <summary>Input index <paramref name="index"/> when the node has that input (a non-empty name), else null.</summary>
    internal static int? Optional(Node node, int index) => node.Inputs.ElementAtOrDefault(index) is { Name.Length: > 0 } ? index : null;

    private static OpSchema? Schema(Node node) => OpRegistry.Find(node.Domain, node.OpType);
}
