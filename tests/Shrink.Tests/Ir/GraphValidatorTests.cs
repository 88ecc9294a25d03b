using Shrink.Ir;
using Xunit;

namespace Shrink.Tests.Ir;

public class GraphValidatorTests
{
    private static Model ModelOf(Graph g)
    {
        var m = new Model(g);
        m.SetOpset("", 17);
        return m;
    }

    private static Graph WithInput(out Value x)
    {
        var g = new Graph("g");
        x = new Value("x", DataType.Float, Shape.Of(2, 3));
        g.Inputs.Add(x);
        return g;
    }

    private static Node Add(Graph g, string op, string name, string output, params Value?[] inputs)
    {
        var n = new Node(op, "", name);
        foreach (var i in inputs) n.AddInput(i);
        n.AddOutput(new Value(output));
        return g.AddNode(n);
    }

    [Fact]
    public void WellFormedGraph_HasNoProblems()
    {
        var g = WithInput(out var x);
        g.Outputs.Add(Add(g, "Relu", "relu", "y", x).Outputs[0]!);

        Assert.Empty(GraphValidator.Validate(ModelOf(g), new ValidationOptions { RequireKnownOps = true }));
    }

    [Fact]
    public void DanglingInput_NamesTheNodeAndTheValue()
    {
        var g = WithInput(out var x);
        var ghost = new Value("ghost", DataType.Float, Shape.Of(2, 3));
        g.Outputs.Add(Add(g, "Add", "adder", "y", x, ghost).Outputs[0]!);

        var problem = Assert.Single(GraphValidator.Validate(ModelOf(g)));

        Assert.Contains("dangling input", problem);
        Assert.Contains("'adder'", problem);
        Assert.Contains("'ghost'", problem);
    }

    [Fact]
    public void Cycle_NamesANodeOnIt()
    {
        var g = WithInput(out var x);
        var loopBack = new Value("loop", DataType.Float);
        var a = new Node("Add", "", "a").AddInput(x).AddInput(loopBack);
        a.AddOutput(new Value("va"));
        var b = new Node("Relu", "", "b").AddInput(a.Outputs[0]);
        b.AddOutput(loopBack);
        g.AddNode(a);
        g.AddNode(b);
        g.Outputs.Add(loopBack);

        var e = Assert.Throws<GraphValidationException>(() => GraphValidator.EnsureValid(ModelOf(g)));

        Assert.Contains("cycle", e.Message);
        Assert.Matches("node '(a|b)'", e.Message);
    }

    [Fact]
    public void TypeMismatch_NamesTheNode()
    {
        var g = WithInput(out var x);
        var shift = g.AddInitializer(Tensor.FromInt64s("shift", new long[] { 3 }, new long[] { 1, 2, 3 }));
        g.Outputs.Add(Add(g, "Add", "mixed_add", "y", x, shift).Outputs[0]!);

        var e = Assert.Throws<GraphValidationException>(() => GraphValidator.EnsureValid(ModelOf(g)));

        Assert.Contains("type mismatch", e.Message);
        Assert.Contains("'mixed_add'", e.Message);
        Assert.Contains("int64", e.Message);
    }

    [Fact]
    public void UnsupportedOp_IsReportedWhenKnownOpsAreRequired()
    {
        var g = WithInput(out var x);
        g.Outputs.Add(Add(g, "FrobnicateV2", "frob", "y", x).Outputs[0]!);
        var model = ModelOf(g);

        var problem = Assert.Single(GraphValidator.Validate(model, new ValidationOptions { RequireKnownOps = true }));

        Assert.Contains("unsupported op 'FrobnicateV2'", problem);
        Assert.Contains("'frob'", problem);
        Assert.Empty(GraphValidator.Validate(model));
    }

    [Fact]
    public void CustomDomainOp_IsFineWithoutRequireKnownOps()
    {
        var g = WithInput(out var x);
        var custom = new Node("MyOp", "com.example", "mine").AddInput(x);
        custom.AddOutput(new Value("y", DataType.Float, Shape.Of(2, 3)));
        g.AddNode(custom);
        g.Outputs.Add(custom.Outputs[0]!);
        var model = ModelOf(g);
        model.SetOpset("com.example", 1);

        Assert.Empty(GraphValidator.Validate(model));
        var problem = Assert.Single(GraphValidator.Validate(model, new ValidationOptions { RequireKnownOps = true }));
        Assert.Contains("domain 'com.example'", problem);
        Assert.Contains("'mine'", problem);
    }

    [Fact]
    public void DanglingGraphOutput_IsReported()
    {
        var g = WithInput(out _);
        g.Outputs.Add(new Value("nowhere", DataType.Float));

        var problem = Assert.Single(GraphValidator.Validate(ModelOf(g)));

        Assert.Contains("'nowhere'", problem);
    }
}
