using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Deployment;

/// <summary>
/// Makes the models of a <see cref="SplitPlan"/>'s parts. Part p is a copy of the model that keeps the plan's nodes
/// p.First..p.Last, copies of the constant nodes they read (Constants, Casts of weights: <see cref="SplitAnalysis.IsConstant"/>) and the initializers they read (an initializer several
/// parts read is copied into each); its inputs are the graph inputs and earlier parts' tensors it reads, its
/// outputs what later parts read and the graph outputs it computes. Each part is a model of its own: same opsets,
/// IR version and metadata as the whole, with a <c>shrink.split.part</c> metadata entry ("2/4").
/// </summary>
public static class ModelParts
{
    /// <summary>The model of part <paramref name="index"/> of <paramref name="plan"/> (made on a copy: <paramref name="model"/> is not changed).</summary>
    public static Model Extract(Model model, SplitPlan plan, int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, plan.Parts.Count);
        var part = plan.Parts[index];
        var copy = model.Clone();
        ShapeInference.Run(copy);
        var graph = copy.Graph;
        var order = SplitAnalysis.Of(copy, plan.Batch).Order;
        if (part.Last >= order.Count)
            throw new ArgumentException($"the plan's part {index + 1} ends at node {part.Last + 1}, but the model has {order.Count}; the plan is of another model", nameof(plan));
        var kept = order.Skip(part.First).Take(part.Nodes).ToHashSet();
        // Last first, so that a copied Cast of a weight brings the Constant it reads.
        foreach (var c in graph.TopologicalOrder().Reverse().Where(SplitAnalysis.IsConstant).ToList())
            if (c.Outputs.OfType<Value>().Any(v => ReadBy(v, kept))) kept.Add(c);
        var inputs = Resolve(graph, part.Inputs, index, "input");
        var outputs = Resolve(graph, part.Outputs, index, "output");
        foreach (var node in graph.TopologicalOrder().Reverse().Where(n => !kept.Contains(n)).ToList())
            graph.RemoveNode(node, force: true);
        graph.Inputs.Clear();
        graph.Inputs.AddRange(inputs);
        graph.Outputs.Clear();
        graph.Outputs.AddRange(outputs);
        graph.RemoveUnusedInitializers();
        if (copy.IrVersion < 4) graph.Inputs.AddRange(graph.Initializers);  // IR 3 lists every initializer as an input
        var present = graph.Values.ToHashSet();
        graph.ValueInfos.RemoveAll(v => !present.Contains(v) || inputs.Contains(v) || outputs.Contains(v));
        copy.SetMetadata("shrink.split.part", $"{index + 1}/{plan.Parts.Count}");
        return copy;
    }

    private static bool ReadBy(Value v, HashSet<Node> nodes) => v.Uses.Any(u => nodes.Contains(TopNode(u.Node)));

    /// <summary>The main-graph node that is <paramref name="n"/> or holds it in a (nested) subgraph.</summary>
    private static Node TopNode(Node n)
    {
        var cur = n;
        while (cur.Graph?.OwnerNode is { } owner) cur = owner;
        return cur;
    }

    private static List<Value> Resolve(Graph graph, IReadOnlyList<string> names, int index, string what)
    {
        var values = graph.Values.GroupBy(v => v.Name).ToDictionary(g => g.Key, g => g.First());
        return names.Select(name =>
        {
            if (!values.TryGetValue(name, out var v))
                throw new ArgumentException($"the plan's part {index + 1} has {what} '{name}', which the model lacks; the plan is of another model");
            if (!v.ElementType.IsKnown())
                throw new GraphValidationException(new[] { $"cannot cut at '{Text.Message.Name(name)}': its element type is not known, and a part's {what} must have one" });
            return v;
        }).ToList();
    }
}
