using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Cleanup;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Cleanup;

public class RemoveUnusedPassTests
{
    /// <summary>lenet300 plus a dead chain (Relu → Sigmoid of the input) and an initializer nothing reads.</summary>
    private static Model WithDeadCode()
    {
        var m = ModelZoo.Create("lenet300");
        var g = m.Graph;
        var relu = g.AddNode(new Node("Relu", "", "dead_relu"));
        relu.AddInput(g.Inputs[0]);
        var r = relu.AddOutput(new Value("dead_r"))!;
        var sig = g.AddNode(new Node("Sigmoid", "", "dead_sigmoid"));
        sig.AddInput(r);
        sig.AddOutput(new Value("dead_s"));
        g.AddInitializer(Tensor.FromFloats("orphan", new long[] { 3 }, new float[] { 1, 2, 3 }));
        return m;
    }

    [Fact]
    public void RemovesDeadChainAndOrphanInitializerOnly()
    {
        var m = WithDeadCode();
        var nodesBefore = m.Graph.Nodes.Count;
        var result = new PassPipeline(new RemoveUnusedPass()) { VerifyEach = true }.Run(m, new PassContext());
        Assert.True(result.Modified);
        Assert.Equal(2, result.Stats["remove-unused.nodes"]);
        Assert.Equal(1, result.Stats["remove-unused.initializers"]);
        Assert.Equal(nodesBefore - 2, result.Model.Graph.Nodes.Count);
        Assert.Null(result.Model.Graph.FindNode("dead_relu"));
        Assert.Null(result.Model.Graph.FindInitializer("orphan"));
        Assert.NotNull(m.Graph.FindNode("dead_relu")); // the input is left as it was
    }

    [Fact]
    public void OutputsInOnnxRuntimeAreUnchanged()
    {
        var m = WithDeadCode();
        using var before = OnnxRunner.FromModel(m);
        var x = before.RandomInputs(4);
        var expected = (float[])before.Run(x)[0].Data;
        using var after = OnnxRunner.FromModel(new RemoveUnusedPass().Run(m, new PassContext()).Model);
        Assert.Equal(expected, (float[])after.Run(x)[0].Data);
    }

    [Fact]
    public void CleanModelIsNotModified()
    {
        var result = new RemoveUnusedPass().Run(ModelZoo.Create("lenet5"), new PassContext());
        Assert.False(result.Modified);
    }
}
