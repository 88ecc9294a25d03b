using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>Infers a node's output types and shapes; reports problems through the context.</summary>
public delegate void InferShapes(InferenceContext ctx);

/// <summary>Multiply-accumulate count of one node, from its inferred shapes; null when unknown.</summary>
public delegate long? CountMacs(InferenceContext ctx);

/// <summary>
/// What Shrink knows about one operator: its arity, how to infer output shapes, how to count MACs.
/// Later subsystems (pruning, quantization) add their knowledge here, keyed the same way.
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
}
