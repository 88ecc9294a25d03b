using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Pruning;

/// <summary>
/// One of the query, key and value projections of an attention block: the layer (MatMul or Gemm with a constant
/// weight), its weight's output axis, its bias (an Add after a MatMul, or Gemm's C), and for a packed in_proj
/// (torch's nn.MultiheadAttention: one weight of 3E outputs) the part it takes (0, 1, 2 along the outputs; −1 when
/// the projections are separate) and the Slice or Split that takes it (its output <c>TakeOutput</c>).
/// </summary>
public sealed record HeadProjection(Node Layer, Value Weight, int OutAxis, Value? Bias, int Part, Node? Take, int TakeOutput);

/// <summary>
/// An entry of a Reshape target that carries the head count (the split into heads: the entry before the head size)
/// or the width H·d (the merge of the heads: the last entry), <see cref="FromEnd"/> positions from the end. It is
/// rewritten to −1 (<see cref="Inferred"/>: ONNX Runtime infers it from the cut width) unless another entry is −1 already,
/// then to the new count scaled from <see cref="Old"/>. <see cref="ConcatInput"/>: the input of the Concat that computes
/// the target holding the entry (−1: the target is a constant).
/// </summary>
public sealed record TargetEdit(Node Reshape, int FromEnd, bool Inferred, long Old, int ConcatInput);

/// <summary>
/// A multi-head attention block as exporters write it: Q, K and V projections, each reshaped into
/// <see cref="Heads"/> heads of <see cref="HeadSize"/> (Reshape, Transpose), softmax(Q·Kᵀ · scale + mask)·V, the
/// heads merged back (Transpose, Reshape) and the output projection (<see cref="Output"/>, whose weight's input axis
/// <see cref="OutputAxis"/> reads the H·d context features). Head h is features h·d … h·d + d − 1 of each projection.
/// </summary>
public sealed record AttentionBlock(string Name, int Heads, int HeadSize, HeadProjection Query, HeadProjection Key, HeadProjection Value,
    Node Output, Value OutputWeight, int OutputAxis, IReadOnlyList<TargetEdit> Targets)
{
    /// <summary>Q, K and V are parts of one in_proj weight.</summary>
    public bool Packed => Query.Part >= 0;

    /// <summary>H·d: the features of each projection.</summary>
    public int Width => Heads * HeadSize;

    public IEnumerable<HeadProjection> Projections => Packed ? new[] { Query } : new[] { Query, Key, Value };

    /// <summary>The layers whose channels are this block's heads (their channel groups are not pruned by channel).</summary>
    public IEnumerable<Node> Layers => new[] { Query.Layer, Key.Layer, Value.Layer, Output }.Distinct();
}

/// <summary>
/// Finds the attention blocks of a graph: from each Softmax back to the Q·Kᵀ MatMul (through the scale and the
/// additive mask) and forward to the MatMul with V, then along each of Q, K and V back through Transpose, a scale
/// and the Reshape into heads to its projection, and along the context through Transpose and the Reshape that
/// merges the heads to the output projection. Both Hugging Face's layout (separate query/key/value Linear layers,
/// [B, S, H, d]) and torch's nn.MultiheadAttention export (a packed in_proj sliced into three, [S, B·H, d]) are
/// followed. A Softmax that is not attention is passed over; an attention block that cannot be followed is
/// returned with the reason. Data only: nothing is edited (it runs shape inference).
/// </summary>
public static class AttentionHeads
{
    public static (IReadOnlyList<AttentionBlock> Blocks, IReadOnlyList<(string Block, string Reason)> LeftAlone) Find(Model model)
    {
        var shapes = ShapeInference.Run(model).ShapeValues;
        var blocks = new List<AttentionBlock>();
        var left = new List<(string, string)>();
        var names = new HashSet<string>();
        foreach (var softmax in model.Graph.TopologicalOrder().Where(n => n.IsDefaultDomain && n.OpType == "Softmax"))
        {
            if (ScoresOf(softmax.Inputs[0], 4) is not { } scores || ContextOf(softmax) is not { } context) continue;
            var name = BlockName(softmax);
            for (var i = 1; !names.Add(name); i++) name = $"{BlockName(softmax)}_{i}"; // two attentions in one scope
            try
            {
                blocks.Add(new HeadFinder(shapes).Block(name, scores, context));
            }
            catch (HeadPatternException e)
            {
                left.Add((name, e.Message));
            }
        }
        return (blocks, left);
    }

    /// <summary>The block's name: the Softmax's scope ("/layers.0/attention/Softmax" → "/layers.0/attention").</summary>
    private static string BlockName(Node softmax)
    {
        var name = softmax.DisplayName;
        var slash = name.LastIndexOf('/');
        return slash > 0 ? name[..slash] : name;
    }

    /// <summary>The Q·Kᵀ MatMul (both operands computed) behind a softmax's input, through a scalar scale and an additive mask.</summary>
    private static Node? ScoresOf(Value? v, int depth)
    {
        if (v?.Producer is not { IsDefaultDomain: true } p || depth == 0) return null;
        if (p.OpType == "MatMul" && p.Inputs.Count == 2 && p.Inputs.All(i => i is not null && Graph.ConstantOf(i) is null)) return p;
        if (p.OpType is "Div" or "Mul" && Scalar(p.Inputs.ElementAtOrDefault(1))) return ScoresOf(p.Inputs[0], depth - 1);
        if (p.OpType == "Mul" && Scalar(p.Inputs[0])) return ScoresOf(p.Inputs.ElementAtOrDefault(1), depth - 1);
        if (p.OpType is "Add" or "Cast") return p.Inputs.Select(i => ScoresOf(i, depth - 1)).FirstOrDefault(s => s is not null);
        return null;
    }

    /// <summary>The MatMul of the attention probabilities with V (through Dropout, Cast or Identity).</summary>
    private static Node? ContextOf(Node softmax)
    {
        var v = softmax.Outputs[0];
        for (var hop = 0; hop < 3 && v is not null; hop++)
        {
            if (v.Uses.Count != 1) return null;
            var (n, index) = v.Uses[0];
            if (n.OpType == "MatMul" && index == 0) return n;
            if (n.OpType is not ("Dropout" or "Cast" or "Identity")) return null;
            v = n.Outputs[0];
        }
        return null;
    }

    internal static bool Scalar(Value? v) => Graph.ConstantOf(v) is { ElementCount: 1 };
}

/// <summary>Why an attention block cannot be followed head by head.</summary>
internal sealed class HeadPatternException : Exception
{
    public HeadPatternException(string reason) : base(reason) { }
}
