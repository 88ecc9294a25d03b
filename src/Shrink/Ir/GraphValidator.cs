using Shrink.Ops;

namespace Shrink.Ir;

/// <summary>Options for <see cref="GraphValidator"/>.</summary>
public sealed record ValidationOptions
{
    /// <summary>Report ops that Shrink has no schema for (needed by passes that must understand every node).</summary>
    public bool RequireKnownOps { get; init; }

    /// <summary>Run shape inference and report type and shape mismatches.</summary>
    public bool CheckTypes { get; init; } = true;

    /// <summary>Report opsets newer than ONNX Runtime runs (off only to pass through files ONNX Runtime already rejects).</summary>
    public bool RequireRuntimeOpsets { get; init; } = true;
}

/// <summary>
/// Checks that a model is well formed: opsets ONNX Runtime runs, graph inputs named once, every
/// input defined (no dangling reads), no cycles, graph outputs produced, node arity, element types
/// that agree, and (optionally) only known ops.
/// Each problem is one line naming the node and op.
/// </summary>
public static class GraphValidator
{
    public static IReadOnlyList<string> Validate(Model model, ValidationOptions? options = null)
    {
        options ??= new ValidationOptions();
        var problems = new List<string>();
        if (options.RequireRuntimeOpsets) CheckOpsets(model, problems);
        CheckGraph(model.Graph, new HashSet<Value>(), problems);
        if (problems.Count > 0) return problems;  // inference needs a well-formed graph
        if (options.CheckTypes || options.RequireKnownOps)
        {
            var report = ShapeInference.Run(model);
            if (options.CheckTypes) problems.AddRange(report.Problems);
            if (options.RequireKnownOps)
                problems.AddRange(report.UnknownOpNodes.Select(n =>
                    $"unsupported op '{n.OpType}'{(n.IsDefaultDomain ? "" : $" (domain '{n.Domain}')")} at node '{n.DisplayName}'; Shrink cannot process this op"));
        }
        return problems;
    }

    /// <summary>Throws <see cref="GraphValidationException"/> when <see cref="Validate"/> finds problems.</summary>
    public static void EnsureValid(Model model, ValidationOptions? options = null)
    {
        var problems = Validate(model, options);
        if (problems.Count > 0) throw new GraphValidationException(problems);
    }

    /// <summary>Each standard domain's opset must be one ONNX Runtime runs (<see cref="OpRegistry.LatestOpsets"/>).</summary>
    private static void CheckOpsets(Model model, List<string> problems)
    {
        foreach (var (domain, version) in model.OpsetImports)
        {
            if (OpRegistry.LatestOpset(domain) is not { } latest || version is >= 1 && version <= latest) continue;
            var name = domain.Length == 0 ? "ai.onnx" : domain;
            problems.Add($"opset {version} of domain {name} is not one ONNX Runtime runs (it knows {name} opsets 1 to {latest}); re-export the model with opset {latest} or lower");
        }
    }

    private static void CheckGraph(Graph g, HashSet<Value> outer, List<string> problems)
    {
        foreach (var name in g.Inputs.GroupBy(v => v.Name).Where(d => d.Count() > 1).Select(d => d.Key))
            problems.Add($"graph '{g.Name}' declares input '{name}' {g.Inputs.Count(v => v.Name == name)} times; input names must be unique, so rename or remove the repeats");
        var defined = new HashSet<Value>(outer);
        defined.UnionWith(g.Inputs);
        defined.UnionWith(g.Initializers);
        foreach (var n in g.Nodes) defined.UnionWith(n.Outputs.OfType<Value>());
        foreach (var n in g.Nodes)
        {
            foreach (var v in n.Inputs.OfType<Value>().Where(v => !defined.Contains(v)))
                problems.Add($"dangling input: node '{n.DisplayName}' ({n.OpType}) reads '{v.Name}', which no node, graph input or initializer defines");
            foreach (var sub in n.Subgraphs) CheckGraph(sub, defined, problems);
        }
        foreach (var v in g.Outputs.Where(v => !defined.Contains(v)))
            problems.Add($"dangling output: graph output '{v.Name}' is not produced by any node, input or initializer");
        if (g.Outputs.Count == 0 && g.OwnerNode is null)
            problems.Add($"graph '{g.Name}' has no outputs");
        try { g.TopologicalOrder(); }
        catch (GraphValidationException e) { problems.AddRange(e.Problems); }
    }
}
