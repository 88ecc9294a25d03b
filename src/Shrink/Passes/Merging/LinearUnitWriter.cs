using Shrink.Ir;

namespace Shrink.Passes.Merging;

/// <summary>How a merged layer is written: a Gemm, a MatMul (with an Add when it has a bias), or a Conv.</summary>
internal enum LayerForm { Gemm, MatMul, Conv }

/// <summary>Writes merged layers into a graph: new initializers in float32, the nodes inserted before an anchor node.</summary>
internal static class LinearUnitWriter
{
    /// <summary>
    /// Inserts a layer reading <paramref name="input"/> before <paramref name="anchor"/> and returns its output: a dense
    /// weight is [K, N] row-major (Gemm with transB = 0, or MatMul), a convolution's [O, I/g, k…] with the attributes of
    /// <paramref name="convAttributes"/> (group set to <paramref name="groups"/>).
    /// </summary>
    public static Value Write(Graph graph, Node anchor, LayerForm form, string name, Value input, long[] weightDims, double[] weight, double[]? bias,
        IEnumerable<Ir.Attribute>? convAttributes = null, long groups = 1, Shape? outputShape = null)
    {
        var w = graph.AddInitializer(Tensor.FromFloats(name + ".weight", weightDims, ToFloats(weight)));
        var b = bias is null ? null : graph.AddInitializer(Tensor.FromFloats(name + ".bias", new[] { (long)bias.Length }, ToFloats(bias)));
        var node = new Node(form == LayerForm.Conv ? "Conv" : form.ToString(), "", graph.UniqueName(name));
        node.AddInput(input);
        node.AddInput(w);
        if (form == LayerForm.Conv)
        {
            foreach (var a in convAttributes ?? Array.Empty<Ir.Attribute>())
                if (a.Name != "group") node.Attributes.Add(a);
            if (groups != 1) node.SetAttribute(Ir.Attribute.Int("group", groups));
        }
        if (b is not null && form != LayerForm.MatMul) node.AddInput(b);
        var hasAdd = b is not null && form == LayerForm.MatMul;
        var y = node.AddOutput(new Value(graph.UniqueName(name + (hasAdd ? "_matmul" : "_out")), DataType.Float, hasAdd ? null : outputShape))!;
        graph.InsertBefore(anchor, node);
        if (!hasAdd) return y;
        var add = new Node("Add", "", graph.UniqueName(name + "_bias"));
        add.AddInput(y);
        add.AddInput(b);
        var z = add.AddOutput(new Value(graph.UniqueName(name + "_out"), DataType.Float, outputShape))!;
        graph.InsertBefore(anchor, add);
        return z;
    }

    /// <summary>Replaces every use of <paramref name="old"/> by <paramref name="replacement"/> and removes <paramref name="nodes"/>, the last first.</summary>
    public static void Retire(Graph graph, Value old, Value replacement, IEnumerable<Node> nodes)
    {
        graph.ReplaceAllUsesWith(old, replacement);
        foreach (var n in nodes.Reverse()) graph.RemoveNode(n, force: true);
    }

    public static float[] ToFloats(double[] values) => Array.ConvertAll(values, v => (float)v);
}
