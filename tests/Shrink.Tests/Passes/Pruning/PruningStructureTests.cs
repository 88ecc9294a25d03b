using Shrink.Passes;
using Shrink.Passes.Pruning;
using Xunit;
using static Shrink.Tests.Passes.GraphStructure;

namespace Shrink.Tests.Passes.Pruning;

/// <summary>The pruning passes on small graphs: the whole output graph, node by node and initializer by initializer.</summary>
public class PruningStructureTests
{
    [Fact]
    public void UnstructuredPruningKeepsTheGraphAndZeroesWeightsOnly()
    {
        var model = Build("mlp", new long[] { 16 }, (b, x) => b.Linear(b.Relu(b.Linear(x, 8)), 4));
        var result = new UnstructuredPrunePass(new UnstructuredPruneOptions { Sparsity = 0.5 }).Run(model, new PassContext());
        Assert.Equal(Nodes(model), Nodes(result.Model));
        Assert.Equal(new[] { "gemm1.weight: float32[8,16]", "gemm1.bias: float32[8]", "gemm2.weight: float32[4,8]", "gemm2.bias: float32[4]" },
            Initializers(result.Model));
        Assert.Equal(64, result.Model.Graph.FindInitializer("gemm1.weight")!.Const!.AsFloats().ToArray().Count(v => v == 0));
        Assert.Equal(16, result.Model.Graph.FindInitializer("gemm2.weight")!.Const!.AsFloats().ToArray().Count(v => v == 0));
        Assert.DoesNotContain(0f, result.Model.Graph.FindInitializer("gemm1.bias")!.Const!.AsFloats().ToArray()); // biases are not pruned
    }

    [Fact]
    public void StructuredPruningCutsFiltersAndTheInputsThatReadThem()
    {
        var model = Build("cnn", new long[] { 3, 6, 6 }, (b, x) => b.Linear(b.Flatten(b.Relu(b.Conv(b.Relu(b.Conv(x, 8, 3, padding: 1)), 4, 3))), 5));
        var context = new PassContext();
        var result = new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.5, ChannelMultiple = 1 }).Run(model, context);
        Assert.Equal(Nodes(model), Nodes(result.Model)); // the same nodes and attributes: only weights shrink
        Assert.Equal(new[]
        {
            "conv1.weight: float32[4,3,3,3]", "conv1.bias: float32[4]",           // 8 → 4 filters
            "conv2.weight: float32[2,4,3,3]", "conv2.bias: float32[2]",           // 4 → 2 filters, reading 4 channels
            "gemm1.weight: float32[5,32]", "gemm1.bias: float32[5]",              // 2 channels × 4×4 flattened features
        }, Initializers(result.Model));
        Assert.Equal("left alone: gemm1: 'output' is a graph output", Assert.Single(context.Notes));
        Assert.Equal(new[] { "conv1", "conv2" }, result.Artifact<KeptChannels>()!.Groups.Keys);
    }
}
