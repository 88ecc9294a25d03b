using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Merging;
using Xunit;

namespace Shrink.Tests.Passes.Merging;

/// <summary>
/// Merging a model read with external data (the large-models issue): finding linear layers and comparing weights for sharing
/// read each weight without loading it, so what is not merged stays in its file, and the result is byte for byte the one of
/// the model held in memory.
/// </summary>
public class MergeLayerByLayerTests
{
    private static PassPipeline Merging() => new(new MergeConsecutivePass(new MergeConsecutiveOptions()), new ShareWeightsPass(new ShareWeightsOptions()));

    [Fact]
    public void WeightsThatAreNotMerged_StayUnloaded_AndAnIdenticalOneIsShared()
    {
        using var dir = new TempDirectory();
        var model = TestModels.MatMulChain(4, 16, seed: 7, relu: true);   // a Relu after every MatMul: nothing consecutive merges
        var w1 = model.Graph.FindInitializer("w1")!.Const!;
        model.Graph.FindInitializer("w2")!.Const = Tensor.FromFloats("w2", w1.Dims, w1.Floats);

        var fromFile = Merging().Run(TestModels.ReadWithExternalData(model, dir), new PassContext());
        var inMemory = Merging().Run(model, new PassContext());

        Assert.Equal(1, fromFile.Stats["share-weights.shared"]);
        Assert.Null(fromFile.Model.Graph.FindInitializer("w2"));
        Assert.All(fromFile.Model.Graph.Initializers, v => Assert.False(v.Const!.IsLoaded));  // compared from the file, never loaded
        Assert.Equal(OnnxWriter.ToBytes(inMemory.Model), OnnxWriter.ToBytes(fromFile.Model));
    }

    [Fact]
    public void ConsecutiveLayersReadFromTheFile_MergeAsTheyDoInMemory()
    {
        using var dir = new TempDirectory();
        var model = TestModels.MatMulChain(3, 16, seed: 8, relu: false);  // MatMul → MatMul → Gemm (transB): one layer

        var fromFile = Merging().Run(TestModels.ReadWithExternalData(model, dir), new PassContext());
        var inMemory = Merging().Run(model, new PassContext());

        Assert.Equal(2, fromFile.Stats["merge-consecutive.merged"]);
        Assert.Single(fromFile.Model.Graph.Nodes);
        Assert.Equal(OnnxWriter.ToBytes(inMemory.Model), OnnxWriter.ToBytes(fromFile.Model));
    }
}
