using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Cleanup;
using Xunit;
using static Shrink.Tests.Passes.GraphStructure;

namespace Shrink.Tests.Passes.Cleanup;

/// <summary>The clean-up passes on small graphs: the whole output graph, node by node and initializer by initializer.</summary>
public class CleanupStructureTests
{
    [Fact]
    public void RemoveUnusedDropsTheDeadChainAndTheOrphanOnly()
    {
        var model = Build("dead", new long[] { 4 }, (b, x) =>
        {
            b.Sigmoid(b.Op("Neg", new[] { x }));                                           // read by nothing
            b.Constant("orphan", Tensor.FromFloats("orphan", new long[] { 2 }, new float[] { 1, 2 }));
            return b.Relu(x);
        });
        var result = new RemoveUnusedPass().Run(model, new PassContext());
        Assert.Equal(new[] { "Relu(input) → output" }, Nodes(result.Model));
        Assert.Empty(Initializers(result.Model));
        Assert.Equal(2, result.Stats["nodes"]);
        Assert.Equal(1, result.Stats["initializers"]);
    }

    [Fact]
    public void FoldConstantsTurnsConstantNodesAndWeightTransposesIntoInitializers()
    {
        var model = Build("constants", new long[] { 4 }, (b, x) =>
        {
            var w = b.Op("Transpose", new[] { b.Constant("w", Tensor.FromFloats("w", new long[] { 3, 4 }, Enumerable.Range(0, 12).Select(i => (float)i).ToArray())) });
            var shift = b.Op("Constant", Array.Empty<Value>(), Shrink.Ir.Attribute.FromTensor("value", Tensor.FromFloats("shift", new long[] { 3 }, new float[] { 1, 2, 3 })));
            return b.Add(b.MatMul1(x, w), shift);
        });
        var result = new FoldConstantsPass().Run(model, new PassContext());
        Assert.Equal(new[] { "MatMul(input, transpose1_out_1) → matmul1_out", "Add(matmul1_out, constant1_out_1) → output" }, Nodes(result.Model));
        Assert.Equal(new[] { "transpose1_out_1: float32[4,3]", "constant1_out_1: float32[3]" }, Initializers(result.Model));
        Assert.Equal(new float[] { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }, result.Model.Graph.Initializers[0].Const!.AsFloats().ToArray()); // wᵀ
        Assert.Equal((2, 2), (result.Stats["nodes"], result.Stats["values"]));
    }
}

internal static class BuilderExtensions
{
    /// <summary>A MatMul of two values (the builder's own MatMul makes its weight).</summary>
    public static Value MatMul1(this Shrink.Builder.NetworkBuilder b, Value x, Value w) => b.Op("MatMul", new[] { x, w });
}
