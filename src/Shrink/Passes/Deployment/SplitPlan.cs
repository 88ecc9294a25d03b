using Shrink.Techniques;

namespace Shrink.Passes.Deployment;

/// <summary>
/// The <c>split-plan</c> artifact of <see cref="SplitPass"/>: where the model is cut. Parts are contiguous ranges
/// of the model's nodes in <see cref="SplitAnalysis.Order"/> (its topological order, Constant nodes left out:
/// each part gets a copy of the Constants it reads), so the plan and the model give back the same parts.
/// </summary>
public sealed record SplitPlan : IArtifact
{
    public string Kind => "split-plan";
    public int Version => 1;

    /// <summary>The parts in the order they run.</summary>
    public IReadOnlyList<PlannedPart> Parts { get; init; } = Array.Empty<PlannedPart>();

    /// <summary>The tensors computed by one part and read by a later one (or passed through from the graph inputs), in order of first definition.</summary>
    public IReadOnlyList<BoundaryTensor> Boundary { get; init; } = Array.Empty<BoundaryTensor>();

    /// <summary>The batch size the byte estimates assume.</summary>
    public int Batch { get; init; } = 1;

    /// <summary>The bound each part was held to (bytes of weights, or of weights plus peak activations), or null for a count of parts.</summary>
    public long? Bound { get; init; }

    /// <summary>What <see cref="Bound"/> limits: "weights" or "memory"; for a count of parts, "parts".</summary>
    public string BoundKind { get; init; } = "parts";

    /// <summary>Bytes of the boundary tensors summed over the cuts (a tensor read by several later parts counts at each cut it crosses).</summary>
    public long CrossingBytes { get; init; }

    /// <summary>
    /// Cuts that had to separate an op from the one node reading its output, a pair ONNX Runtime may fuse when it runs
    /// the whole model (<see cref="SplitAnalysis.FusingProducers"/>): 0 means the parts compute what the whole does bit
    /// for bit; otherwise the outputs may differ in the last bits.
    /// </summary>
    public int FusedCuts { get; init; }
}

/// <summary>
/// One part: nodes <see cref="First"/>..<see cref="Last"/> of the order (inclusive), the graph inputs and boundary
/// tensors it reads, what it hands on or returns, its weights and its estimated peak activation memory.
/// </summary>
public sealed record PlannedPart(int First, int Last)
{
    public string FirstNode { get; init; } = "";
    public string LastNode { get; init; } = "";
    public int Nodes => Last - First + 1;
    public IReadOnlyList<string> Inputs { get; init; } = Array.Empty<string>();
    public IReadOnlyList<string> Outputs { get; init; } = Array.Empty<string>();
    public long WeightBytes { get; init; }
    public long PeakActivationBytes { get; init; }
}

/// <summary>A tensor one part passes to later ones: name, element type, shape (symbols kept), its bytes at the plan's batch, who makes it (−1: a graph input) and who reads it.</summary>
public sealed record BoundaryTensor(string Name, string ElementType, IReadOnlyList<string> Shape, long Bytes, int FromPart, IReadOnlyList<int> ToParts);
