using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Cleanup;

/// <summary>
/// <c>unshare-initializers</c>: gives every layer its own float constants. <c>torch.onnx.export</c> deduplicates
/// initializers of equal value (all-zero biases of BatchNorm-folded convolutions, say) and routes the shared tensor
/// through Identity nodes, so a pass that edits one layer's constants (structured pruning, clustering, factorization,
/// weight quantization) would edit the others' too, or not see a constant at all. This pass rewires every node that
/// reads a float initializer, directly or through a chain of Identity nodes, to a copy of its own (the first reader
/// keeps the original) and removes the Identity nodes left unused. A weight that several layers read on purpose — not
/// all of one value and read as the weight of two or more layers (Conv, Gemm, MatMul) or as an embedding table (Gather)
/// — stays tied and is named in the notes. Needs no data, no training; does not change shapes; the outputs are the
/// same bit for bit (each copy holds the same bytes). Initializers that are also graph inputs (overridable) and reads
/// inside subgraphs are left as they are. Counters: <c>copies</c> made, <c>identities</c> removed, <c>tied</c> kept.
/// </summary>
public sealed class UnshareInitializersPass : Pass
{
    public override string Id => "unshare-initializers";

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        var graph = model.Graph;
        var (copies, tied) = (0, 0);
        var identities = new List<Node>();
        foreach (var v in graph.Initializers.ToList())
        {
            if (!IsFloat(v.Const!.DataType) || graph.Inputs.Contains(v)) continue;
            var reads = new List<Use>();
            Collect(graph, v, reads, identities);
            if (reads.Count == 0 || reads.Count == 1 && reads[0].Node.Inputs[reads[0].Index] == v) continue;
            if (Tied(v.Const!, reads) is { } layers)
            {
                tied++;
                context.Notes.Add($"kept tied: '{v.Name}' is the weight of {layers}, read by them on purpose");
                continue;
            }
            for (var i = 0; i < reads.Count; i++)
            {
                var (node, index) = (reads[i].Node, reads[i].Index);
                if (i == 0) node.SetInput(index, v);
                else
                {
                    node.SetInput(index, graph.AddInitializer(v.Const!.Clone($"{v.Name}_{i}")));
                    copies++;
                }
            }
        }
        var removed = RemoveDead(graph, identities);
        var stats = new Dictionary<string, long> { ["copies"] = copies, ["identities"] = removed, ["tied"] = tied };
        return new PassResult(model, copies + removed > 0, stats);
    }

    private static bool IsFloat(DataType t) => t is DataType.Float or DataType.Float16 or DataType.BFloat16 or DataType.Double;

    /// <summary>The main-graph nodes (not Identity) that read <paramref name="v"/>, directly or through Identity chains.</summary>
    private static void Collect(Graph graph, Value v, List<Use> reads, List<Node> identities)
    {
        foreach (var use in v.Uses)
        {
            if (use.Node.Graph != graph) continue;
            if (use.Node is { OpType: "Identity", IsDefaultDomain: true, Outputs: [{ } output] } identity && !graph.Outputs.Contains(output))
            {
                identities.Add(identity);
                Collect(graph, output, reads, identities);
            }
            else reads.Add(use);
        }
    }

    /// <summary>The layers, when two or more read the tensor as their weight (or embedding table) and its values are not all one; else null.</summary>
    private static string? Tied(Tensor t, List<Use> reads)
    {
        var layers = reads.Where(r => OpRoles.Layer(r.Node)?.Weight == r.Index || r.Node is { OpType: "Gather", IsDefaultDomain: true } && r.Index == 0)
            .Select(r => $"'{r.Node.DisplayName}'").Distinct().ToList();
        return layers.Count > 1 && !AllEqual(t) ? string.Join(", ", layers) : null;
    }

    private static bool AllEqual(Tensor t)
    {
        var size = (int)t.DataType.ByteCount(1);
        var data = t.RawData.AsSpan();
        for (var i = size; i + size <= data.Length; i += size)
            if (!data.Slice(i, size).SequenceEqual(data[..size])) return false;
        return true;
    }

    /// <summary>Removes the Identity nodes nothing reads any more (the last of a chain first).</summary>
    private static int RemoveDead(Graph graph, List<Node> identities)
    {
        var removed = 0;
        foreach (var node in identities.Distinct().Reverse())
        {
            if (node.Graph != graph || node.Outputs[0] is not { Uses.Count: 0 }) continue;
            graph.RemoveNode(node);
            removed++;
        }
        return removed;
    }
}
