using Shrink.Ir;

namespace Shrink.Passes.Pruning;

/// <summary>
/// The residual stream of a transformer: the features every block adds back onto and normalises with
/// LayerNormalization (or its decomposed form, a ReduceMean over the last axis). Its width, the embedding dimension,
/// is one group across the whole encoder; structured pruning leaves it alone (as Torch-Pruning does unless asked), and
/// says so in one line for every layer that writes it: the output projections, the second feed-forward layers, a patch
/// embedding.
/// </summary>
public static class ResidualStream
{
    public const string Reason = "it writes the residual stream of a transformer, normalised by LayerNormalization: the embedding width is left alone";

    /// <summary>How far (in nodes) a layer's output is followed to a normalisation.</summary>
    private const int Reach = 24;

    /// <summary>
    /// Does any producer of the group reach a LayerNormalization (or a ReduceMean over the last axis) before any other
    /// layer with weights? False when a producer's weights are tied to other layers: that reason comes first.
    /// </summary>
    public static bool Writes(ChannelGroup group) => group.Producers.All(p => p.Weight.Uses.Count == 1) && group.Producers.Any(p => ReachesNorm(p.Layer));

    private static bool ReachesNorm(Node layer)
    {
        var queue = new Queue<Value>(layer.Outputs.OfType<Value>());
        var seen = new HashSet<Node>();
        while (queue.Count > 0 && seen.Count < Reach)
        {
            foreach (var (n, _) in queue.Dequeue().Uses)
            {
                if (!seen.Add(n) || n.OpType == "Shape" || ChannelFlow.Spec(n) is not null) continue;
                if (n.OpType == "LayerNormalization" || n.OpType == "ReduceMean" && n.GetInts("axes") is [var axis] && (axis == -1 || axis == n.Inputs[0]?.Shape?.Rank - 1)) return true;
                foreach (var o in n.Outputs.OfType<Value>()) queue.Enqueue(o);
            }
        }
        return false;
    }
}
