using Shrink.Ir;
using Xunit;

namespace Shrink.Tests.Ir;

public class GraphEditingTests
{
    /// <summary>x → Relu "relu" → r → Neg "neg" → y (graph output).</summary>
    private static (Graph G, Value X, Node Relu, Value R, Node Neg, Value Y) Chain()
    {
        var g = new Graph("chain");
        var x = new Value("x", DataType.Float, Shape.Of(2, 4));
        g.Inputs.Add(x);
        var relu = Unary("Relu", "relu", x, "r");
        var neg = Unary("Neg", "neg", relu.Outputs[0]!, "y");
        g.AddNode(relu);
        g.AddNode(neg);
        g.Outputs.Add(neg.Outputs[0]!);
        return (g, x, relu, relu.Outputs[0]!, neg, neg.Outputs[0]!);
    }

    private static Node Unary(string op, string name, Value input, string output)
    {
        var n = new Node(op, "", name).AddInput(input);
        n.AddOutput(new Value(output, DataType.Float));
        return n;
    }

    private static string[] Names(IEnumerable<Node> nodes) => nodes.Select(n => n.Name).ToArray();

    [Fact]
    public void ProducerAndUses_AreKnown()
    {
        var (_, x, relu, r, neg, _) = Chain();

        Assert.Null(x.Producer);
        Assert.Same(relu, r.Producer);
        Assert.Equal(new[] { new Use(relu, 0) }, x.Uses);
        Assert.Equal(new[] { new Use(neg, 0) }, r.Uses);
    }

    [Fact]
    public void InsertBeforeAndAfter_PlaceNodesNextToTheAnchor()
    {
        var (g, x, relu, _, neg, _) = Chain();

        g.InsertBefore(relu, Unary("Abs", "first", x, "a"));
        g.InsertAfter(relu, Unary("Abs", "middle", x, "b"));
        g.InsertAfter(neg, Unary("Abs", "last", x, "c"));

        Assert.Equal(new[] { "first", "relu", "middle", "neg", "last" }, Names(g.Nodes));
        Assert.Equal(4, x.Uses.Count);
        Assert.All(g.Nodes, n => Assert.Same(g, n.Graph));
    }

    [Fact]
    public void InsertNodeOfAnotherGraph_Throws()
    {
        var (g, _, relu, _, _, _) = Chain();

        Assert.Throws<InvalidOperationException>(() => g.AddNode(relu));
    }

    [Fact]
    public void ReplaceAllUsesWith_RewiresNodeInputs()
    {
        var (g, x, _, r, neg, _) = Chain();
        var abs = g.InsertAfter(g.Nodes[0], Unary("Abs", "abs", x, "a"));

        g.ReplaceAllUsesWith(r, abs.Outputs[0]!);

        Assert.Same(abs.Outputs[0], neg.Inputs[0]);
        Assert.Empty(r.Uses);
        Assert.Equal(new[] { new Use(neg, 0) }, abs.Outputs[0]!.Uses);
    }

    [Fact]
    public void ReplaceAllUsesWith_RewiresGraphOutputAndKeepsItsName()
    {
        var (g, _, _, r, neg, y) = Chain();
        var abs = g.AddNode(Unary("Abs", "abs", r, "a"));
        var replacement = abs.Outputs[0]!;

        g.ReplaceAllUsesWith(y, replacement);

        Assert.Same(replacement, g.Outputs[0]);
        Assert.Equal("y", replacement.Name);
        Assert.NotEqual("y", y.Name);
        Assert.Single(g.Values, v => v.Name == "y");
        Assert.Same(neg, y.Producer);
    }

    [Fact]
    public void RemoveNode_RefusesWhileOutputsAreUsed()
    {
        var (g, _, relu, _, neg, _) = Chain();

        var e1 = Assert.Throws<InvalidOperationException>(() => g.RemoveNode(relu));
        var e2 = Assert.Throws<InvalidOperationException>(() => g.RemoveNode(neg));

        Assert.Contains("'r'", e1.Message);
        Assert.Contains("'y'", e2.Message);
        Assert.Equal(2, g.Nodes.Count);
    }

    [Fact]
    public void RemoveNode_WorksAfterRewiring()
    {
        var (g, x, relu, r, neg, y) = Chain();
        var abs = g.AddNode(Unary("Abs", "abs", r, "a"));

        g.ReplaceAllUsesWith(y, abs.Outputs[0]!);
        g.RemoveNode(neg);

        Assert.Equal(new[] { "relu", "abs" }, Names(g.Nodes));
        Assert.Null(neg.Graph);
        Assert.Null(y.Producer);
        Assert.Equal(new[] { new Use(abs, 0) }, r.Uses);
        Assert.Equal(new[] { new Use(relu, 0) }, x.Uses);
        Assert.Empty(GraphValidator.Validate(new Model(g) { OpsetImports = { new("", 17) } }));
    }

    [Fact]
    public void TopologicalOrder_SortsShuffledNodes()
    {
        var g = new Graph("shuffled");
        var x = new Value("x", DataType.Float, Shape.Of(3));
        g.Inputs.Add(x);
        var a = Unary("Relu", "a", x, "va");
        var b = Unary("Neg", "b", a.Outputs[0]!, "vb");
        var c = new Node("Add", "", "c").AddInput(b.Outputs[0]).AddInput(a.Outputs[0]);
        c.AddOutput(new Value("vc"));
        var d = Unary("Abs", "d", x, "vd");
        foreach (var n in new[] { c, b, d, a }) g.AddNode(n);
        g.Outputs.Add(c.Outputs[0]!);

        var order = Names(g.TopologicalOrder());

        Assert.Equal(new[] { "d", "a", "b", "c" }, order);  // d is ready first and keeps its file position
        Assert.Equal(new[] { "c", "b", "d", "a" }, Names(g.Nodes));  // the file order is untouched
    }

    [Fact]
    public void UniqueName_AvoidsValueAndNodeNames()
    {
        var (g, _, _, _, _, _) = Chain();

        Assert.Equal("fresh", g.UniqueName("fresh"));
        Assert.Equal("x_1", g.UniqueName("x"));
        Assert.Equal("relu_1", g.UniqueName("relu"));
        g.AddNode(Unary("Abs", "abs", g.Inputs[0], "x_1"));
        Assert.Equal("x_2", g.UniqueName("x"));
    }

    [Fact]
    public void AddInitializer_MakesTheNameUnique()
    {
        var (g, _, _, _, _, _) = Chain();

        var v = g.AddInitializer(Tensor.FromFloats("x", new long[] { 1 }, new[] { 1f }));

        Assert.Equal("x_1", v.Name);
        Assert.Equal("x_1", v.Const!.Name);
        Assert.Same(v, g.FindInitializer("x_1"));
    }
}
