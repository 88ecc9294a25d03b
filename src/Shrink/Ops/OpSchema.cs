using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>Infers a node's output types and shapes; reports problems through the context.</summary>
public delegate void InferShapes(InferenceContext ctx);

/// <summary>Multiply-accumulate count of one node, from its inferred shapes; null when unknown.</summary>
public delegate long? CountMacs(InferenceContext ctx);

/// <summary>
/// What Shrink knows about one operator: its arity, how to infer output shapes, how to count MACs, which
/// inputs are weights and biases and how they are laid out, how channels flow through it (what structured
/// pruning may follow) and its part in quantization. Passes read this (through <see cref="OpRoles"/>)
/// instead of switching on op types.
/// </summary>
public sealed class OpSchema
{
    public OpSchema(string opType, InferShapes infer, int minInputs = 1, int maxInputs = 1, string domain = "")
    {
        OpType = opType;
        Infer = infer;
        MinInputs = minInputs;
        MaxInputs = maxInputs;
        Domain = domain;
    }

    public string OpType { get; }
    public string Domain { get; }
    public int MinInputs { get; }

    /// <summary>Most inputs accepted; <see cref="int.MaxValue"/> for variadic ops.</summary>
    public int MaxInputs { get; }

    /// <summary>First default-domain opset in which this schema applies.</summary>
    public int SinceVersion { get; init; } = 1;

    public InferShapes Infer { get; }

    /// <summary>MAC counter; null for ops counted as free (elementwise, data movement).</summary>
    public CountMacs? Macs { get; init; }

    /// <summary>Where the node's weight and bias are and their channel axes; null for ops without parameters.</summary>
    public DescribeWeights? Weights { get; init; }

    /// <summary>Input indices of per-channel parameters (BatchNormalization's scale, bias, mean and variance), each indexed by the input's channels.</summary>
    public IReadOnlyList<int> ChannelInputs { get; init; } = Array.Empty<int>();

    /// <summary>How channels flow through the op; <see cref="ChannelFlowKind.Opaque"/> when they cannot be followed.</summary>
    public ChannelFlowKind Channels { get; init; }

    /// <summary>
    /// True for a node when f(0) = 0 channel by channel (ReLU, Tanh, max pooling, Clip with 0 inside its bounds):
    /// zeroing a channel before the node then equals zeroing it after, so pruning may follow the channel through.
    /// Null: never.
    /// </summary>
    public Func<Node, bool>? KeepsZero { get; init; }

    /// <summary>A ReLU-like activation (ReLU, Clip, LeakyReLU, HardSwish, GELU): the activation criteria count the zeros after it.</summary>
    public bool Rectifier { get; init; }

    /// <summary>A gate (Sigmoid, HardSigmoid): f(0) ≠ 0, so pruning follows it only into a Mul onto the channels it gates.</summary>
    public bool Gate { get; init; }

    public QuantizationRole Quantization { get; init; }
}
