using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Cleanup;
using Shrink.Runtime;
using Xunit;

namespace Shrink.Tests.Passes.Cleanup;

/// <summary>Every layer gets its own float constants; tied weights stay tied and are named; outputs equal bit for bit in ONNX Runtime.</summary>
public class UnshareInitializersPassTests
{
    /// <summary>torch.onnx.export deduplicated the all-zero folded biases of these exports and routed them through Identity nodes.</summary>
    [Theory]
    [InlineData("prune_resnet")]
    [InlineData("prune_mobilenet_v3")]
    [InlineData("prune_efficientnet")]
    public void ExportedSharedBiasesAreCopiedAndTheOutputsStayBitForBit(string name)
    {
        var model = OnnxReader.Read(TestModels.TorchPath(name));
        Assert.Contains(model.Graph.Nodes, n => n.OpType == "Identity");
        var context = new PassContext();
        var result = new UnshareInitializersPass().Run(model, context);
        new PassPipeline(new UnshareInitializersPass()) { VerifyEach = true }.Run(model, new PassContext()); // the graph verifies before and after
        var graph = result.Model.Graph;
        Assert.True(result.Modified);
        Assert.DoesNotContain(graph.Nodes, n => n.OpType == "Identity");
        Assert.All(graph.Initializers.Where(v => v.Const!.DataType == DataType.Float), v => Assert.True(v.Uses.Count <= 1, $"{v.Name} is read by {v.Uses.Count} nodes"));
        Assert.True(result.Stats["copies"] > 0);
        Assert.Empty(context.Notes);

        var (x, shape) = TestModels.TorchArray(name, "input");
        using var before = OnnxRunner.FromModel(model, new RunnerOptions { Threads = 1 });
        using var after = OnnxRunner.FromModel(result.Model, new RunnerOptions { Threads = 1 });
        var inputs = new[] { new HostTensor("input", x, shape) };
        var expected = (float[])before.Run(inputs)[0].Data;
        Assert.Equal(expected, (float[])after.Run(inputs)[0].Data);
        Parity.AssertClose(TestModels.TorchArray(name, "output").Data, expected, $"{name} against PyTorch");
    }

    /// <summary>A weight two MatMuls read on purpose stays tied (and is named); a zero bias two Adds read is copied.</summary>
    [Fact]
    public void TiedWeightsStayTiedAndAreNamed()
    {
        var model = new Model(new Graph("tied"));
        model.OpsetImports.Add(new("", 17));
        var g = model.Graph;
        var x = new Value("x", DataType.Float, Shape.Of(2, 4));
        g.Inputs.Add(x);
        var w = g.AddInitializer(Tensor.FromFloats("w", new long[] { 4, 4 }, Enumerable.Range(0, 16).Select(i => i * 0.1f).ToArray()));
        var zero = g.AddInitializer(Tensor.FromFloats("zero", new long[] { 4 }, new float[4]));
        Value Op(string op, string name, Value a, Value b)
        {
            var n = g.AddNode(new Node(op, "", name));
            n.AddInput(a);
            n.AddInput(b);
            return n.AddOutput(new Value(name + "_out"))!;
        }
        var y = Op("Add", "add2", Op("MatMul", "mm2", Op("Add", "add1", Op("MatMul", "mm1", x, w), zero), w), zero);
        g.Outputs.Add(y);
        var context = new PassContext();
        var result = new UnshareInitializersPass().Run(model, context);
        Assert.Equal(1, result.Stats["tied"]);
        Assert.Equal(1, result.Stats["copies"]);
        Assert.Equal("kept tied: 'w' (the weight of 'mm1', 'mm2'), which several layers read", Assert.Single(context.Notes));
        var rg = result.Model.Graph;
        Assert.Equal(2, rg.FindInitializer("w")!.Uses.Count);
        Assert.NotSame(rg.Nodes.Single(n => n.Name == "add1").Inputs[1], rg.Nodes.Single(n => n.Name == "add2").Inputs[1]);
    }

    [Fact]
    public void AModelWithoutSharingIsUnchanged()
    {
        var model = Shrink.Zoo.ModelZoo.Create("resnet-small", seed: 1);
        var result = new UnshareInitializersPass().Run(model, new PassContext());
        Assert.False(result.Modified);
        Assert.Equal(OnnxWriter.ToBytes(model), OnnxWriter.ToBytes(result.Model));
    }
}
