using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Cleanup;
using Shrink.Runtime;
using Xunit;

namespace Shrink.Tests.Passes.Cleanup;

/// <summary>Constant folding on PyTorch exports: outputs equal the original's in ONNX Runtime, the constant nodes are gone.</summary>
public class FoldConstantsPassTests
{
    [Theory]
    [InlineData("lenet_fmnist")]
    [InlineData("transformer_tiny")]
    [InlineData("shufflenet_tiny")]
    public void FoldedModelEqualsTheOriginal(string name)
    {
        var original = OnnxReader.Read(TestModels.TorchPath(name));
        var result = new PassPipeline(new FoldConstantsPass()) { VerifyEach = true }.Run(original, new PassContext());
        var folded = result.Model;
        Assert.True(result.Modified);
        Assert.DoesNotContain(folded.Graph.Nodes, n => n.OpType == "Constant");
        Assert.True(folded.Graph.Nodes.Count < original.Graph.Nodes.Count);

        var (input, shape) = TestModels.TorchArray(name, "input");
        using var a = OnnxRunner.FromModel(original, new RunnerOptions { Threads = 1 });
        using var b = OnnxRunner.FromModel(folded, new RunnerOptions { Threads = 1 });
        var inputs = new[] { new HostTensor(a.Inputs[0].Name, input, shape) };
        Assert.Equal((float[])a.Run(inputs)[0].Data, (float[])b.Run(inputs)[0].Data);
    }

    [Fact]
    public void StaticShapesAndWeightTransposesBecomeInitializers()
    {
        var b = new Shrink.Builder.NetworkBuilder("static", seed: 1);
        var x = b.Input("input", 4);
        var w = b.Op("Transpose", new[] { b.Constant("w", Tensor.FromFloats("w", new long[] { 3, 4 }, Enumerable.Range(0, 12).Select(i => (float)i).ToArray())) });
        b.Output(b.Op("MatMul", new[] { x, w }));
        var result = new FoldConstantsPass().Run(b.Build(), new PassContext());
        Assert.Equal(1, result.Stats["nodes"]);
        var matmul = result.Model.Graph.Nodes.Single();
        Assert.Equal(new long[] { 4, 3 }, matmul.Inputs[1]!.Const!.Dims);
        Assert.Equal(4f, matmul.Inputs[1]!.Const!.AsFloats()[1]); // w[1,0] = 4 is wᵀ[0,1]
    }
}
