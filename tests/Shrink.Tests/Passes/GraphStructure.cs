using Shrink.Builder;
using Shrink.Ir;

namespace Shrink.Tests.Passes;

/// <summary>
/// A graph written out for structural tests: each node as <c>Op(inputs) → outputs {attributes}</c> in node
/// order, each initializer as <c>name: type[dims]</c>, so a test states the whole expected output graph.
/// </summary>
internal static class GraphStructure
{
    public static string[] Nodes(Model m) => m.Graph.Nodes.Select(Describe).ToArray();

    public static string[] Initializers(Model m) => m.Graph.Initializers.Select(v => $"{v.Name}: {v.Const!.DataType.ShortName()}[{string.Join(",", v.Const.Dims)}]").ToArray();

    public static string Describe(Node n)
    {
        var text = $"{n.OpType}({string.Join(", ", n.Inputs.Select(v => v?.Name ?? ""))}) → {string.Join(", ", n.Outputs.Select(v => v?.Name ?? ""))}";
        return n.Attributes.Count == 0 ? text : text + " {" + string.Join(" ", n.Attributes) + "}";
    }

    /// <summary>input [N, <paramref name="dims"/>] through <paramref name="body"/> to the graph output <c>output</c>.</summary>
    public static Model Build(string name, long[] dims, Func<NetworkBuilder, Value, Value> body, int seed = 1)
    {
        var b = new NetworkBuilder(name, seed);
        b.Output(body(b, b.Input("input", dims)));
        return b.Build();
    }
}
