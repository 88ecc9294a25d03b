using Shrink.Ir;

namespace Shrink.Passes.Cleanup;

/// <summary>
/// <c>remove-unused</c>: removes nodes none of whose outputs reach a graph output (dead code) and
/// initializers nothing reads. Needs no data, no training; does not change shapes; the result runs in
/// ONNX Runtime with the same outputs. Nodes of unknown ops are removed only when dead too.
/// Counters: <c>nodes</c>, <c>initializers</c> removed.
/// </summary>
public sealed class RemoveUnusedPass : Pass
{
    public override string Id => "remove-unused";

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        var nodes = 0;
        var initializers = 0;
        foreach (var graph in model.AllGraphs().ToList())
        {
            nodes += RemoveDeadNodes(graph);
            initializers += graph.RemoveUnusedInitializers();
        }
        var stats = new Dictionary<string, long> { ["nodes"] = nodes, ["initializers"] = initializers };
        return new PassResult(model, nodes + initializers > 0, stats);
    }

    /// <summary>Walks nodes from last to first, removing each whose outputs are all unused.</summary>
    private static int RemoveDeadNodes(Graph graph)
    {
        var removed = 0;
        foreach (var node in graph.TopologicalOrder().Reverse())
        {
            var live = node.Outputs.OfType<Value>().Any(v => v.Uses.Count > 0 || graph.Outputs.Contains(v));
            if (live) continue;
            graph.RemoveNode(node);
            removed++;
        }
        return removed;
    }
}
