using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>Result of <see cref="ShapeInference.Run"/>: problems found and nodes whose op is not known.</summary>
public sealed record InferenceReport(IReadOnlyList<string> Problems, IReadOnlyList<Node> UnknownOpNodes)
{
    /// <summary>The known elements of small int64 tensors computed from Shape ops (Reshape targets, Slice bounds).</summary>
    public IReadOnlyDictionary<Value, Dim[]> ShapeValues { get; init; } = new Dictionary<Value, Dim[]>();
}

/// <summary>
/// Infers element types and shapes of every value, node by node in topological order, using the
/// <see cref="OpRegistry"/>. Unknown ops leave their outputs as declared in the file (it never
/// requires full inference to succeed). Small int64 shape tensors are propagated so Reshape targets
/// computed from Shape ops (as PyTorch exports them) resolve.
/// </summary>
public static class ShapeInference
{
    public static InferenceReport Run(Model model)
    {
        var problems = new List<string>();
        var unknown = new List<Node>();
        var shapeValues = new Dictionary<Value, Dim[]>();
        RunGraph(model, model.Graph, shapeValues, problems, unknown);
        return new InferenceReport(problems, unknown) { ShapeValues = shapeValues };
    }

    private static void RunGraph(Model model, Graph graph, Dictionary<Value, Dim[]> shapeValues, List<string> problems, List<Node> unknown)
    {
        foreach (var node in graph.TopologicalOrder())
        {
            foreach (var sub in node.Subgraphs) RunGraph(model, sub, shapeValues, problems, unknown);
            var opset = model.OpsetVersion(node.Domain) ?? model.DefaultOpset;
            var schema = OpRegistry.Find(node.Domain, node.OpType, opset);
            if (schema is null) { unknown.Add(node); continue; }
            if (!CheckArity(node, schema, problems)) continue;
            var ctx = new InferenceContext(node, opset, shapeValues, problems);
            try { schema.Infer(ctx); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IndexOutOfRangeException or ArithmeticException)
            {
                problems.Add($"cannot infer shapes at node '{node.DisplayName}' ({node.OpType}): {e.Message}");
            }
        }
    }

    private static bool CheckArity(Node node, OpSchema schema, List<string> problems)
    {
        var count = node.Inputs.Count;
        while (count > 0 && node.Inputs[count - 1] is null) count--;
        if (count >= schema.MinInputs && count <= schema.MaxInputs) return true;
        var expected = schema.MaxInputs == int.MaxValue ? $"at least {schema.MinInputs}"
            : schema.MinInputs == schema.MaxInputs ? $"{schema.MinInputs}" : $"{schema.MinInputs} to {schema.MaxInputs}";
        problems.Add($"node '{node.DisplayName}' ({node.OpType}) has {count} inputs; {node.OpType} takes {expected}");
        return false;
    }

    /// <summary>MACs of one node (after <see cref="Run"/>), or null when unknown or not counted.</summary>
    /// <remarks>Symbolic dimensions named in <paramref name="dims"/> count at that size (a sequence length, say); the first axis is the batch.</remarks>
    public static long? Macs(Model model, Node node, IReadOnlyDictionary<string, long>? dims = null)
    {
        var opset = model.OpsetVersion(node.Domain) ?? model.DefaultOpset;
        var schema = OpRegistry.Find(node.Domain, node.OpType, opset);
        if (schema?.Macs is null) return null;
        return schema.Macs(new InferenceContext(node, opset, new Dictionary<Value, Dim[]>(), new List<string>()) { DimValues = dims ?? new Dictionary<string, long>() });
    }
}
