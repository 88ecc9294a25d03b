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
/// — stays tied and is named in the notes: the graph cannot tell a tied embedding from equal weights the exporter
/// merged (the layers of an <c>nn.TransformerEncoder</c> are deep copies of one), and keeping it tied keeps what the
/// file says. Needs no data, no training; does not change shapes; the outputs are the
/// same bit for bit (each copy holds the same bytes). Initializers that are also graph inputs (overridable) and reads
/// inside subgraphs are left as they are. Counters: <c>copies</c> made, <c>identities</c> removed, <c>tied</c> kept.
/// </summary>
public sealed class UnshareInitializersPass : Pass
{
    public override string Id => "unshare-initializers";

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        var graph = model.Graph;
        var copies = 0;
        var (identities, tied) = (new List<Node>(), new List<string>());
        foreach (var v in graph.Initializers.ToList())
        {
            if (!IsFloat(v.Const!.DataType) || graph.Inputs.Contains(v)) continue;
            var reads = new List<Use>();
            Collect(graph, v, reads, identities);
            if (reads.Count == 0 || reads.Count == 1 && reads[0].Node.Inputs[reads[0].Index] == v) continue;
            if (Tied(v.Const!, reads) is { } layers)
            {
                tied.Add($"'{v.Name}' (the weight of {layers})");
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
        NoteTied(tied, context);
        var stats = new Dictionary<string, long> { ["copies"] = copies, ["identities"] = removed, ["tied"] = tied.Count };
        return new PassResult(model, copies + removed > 0, stats);
    }

    /// <summary>The weights kept tied: each on its own line when there are few (or the notes are detailed), else a count and a few.</summary>
    private static void NoteTied(List<string> tied, PassContext context)
    {
        const int few = 3;
        if (tied.Count <= few || context.Verbosity == NotesLevel.Detailed)
            foreach (var t in tied) context.Notes.Add($"kept tied: {t}, which several layers read");
        else
            context.Note(Text.OptionText.Of($"kept tied: {tied.Count} weights that several layers read, e.g. {string.Join(", ", tied.Take(few))} (each one with {Text.OptionName.Of(nameof(PassContext.Verbosity))} detailed)"));
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
        var layers = reads.Where(IsWeightRead).Select(r => $"'{r.Node.DisplayName}'").Distinct().ToList();
        return layers.Count > 1 && !AllEqual(t) ? string.Join(", ", layers) : null;
    }

    /// <summary>
    /// Read as a layer's weight (either operand of MatMul, the first two of Conv, ConvTranspose and Gemm: the op registry's
    /// layers, whether or not the value is a constant at the node) or as an embedding table (Gather's data).
    /// </summary>
    private static bool IsWeightRead(Use r) => r.Node.IsDefaultDomain && (OpRoles.Channels(r.Node) == ChannelFlowKind.Layer && r.Index < 2
        || r.Node.OpType == "Gather" && r.Index == 0);

    private static bool AllEqual(Tensor t)
    {
        var size = (int)t.DataType.ByteCount(1);
        var data = t.Bytes;
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
