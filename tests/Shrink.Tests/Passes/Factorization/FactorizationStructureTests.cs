using Shrink.Passes;
using Shrink.Passes.Factorization;
using Xunit;
using static Shrink.Tests.Passes.GraphStructure;

namespace Shrink.Tests.Passes.Factorization;

/// <summary>Low-rank factorization on a small graph: the whole output graph, node by node and initializer by initializer.</summary>
public class FactorizationStructureTests
{
    [Fact]
    public void AGemmBecomesTwoThinGemmsAndTheClassifierStays()
    {
        var model = Build("mlp", new long[] { 64 }, (b, x) => b.Linear(b.Relu(b.Linear(x, 32)), 10));
        var context = new PassContext();
        var result = new LowRankPass(new LowRankOptions { Energy = null, Ratio = 0.25 }).Run(model, context);
        // Rank ⌊0.25·64·32/96⌋ = 5: x [N,64] · A [64,5] · B [5,32] + bias; the first factor keeps the layer's attributes with transB off.
        Assert.Equal(new[]
        {
            "Gemm(input, gemm1.weight_lowrank_a) → gemm1_lowrank_mid {alpha=1 beta=1 transB=0}",
            "Gemm(gemm1_lowrank_mid, gemm1.weight_lowrank_b, gemm1.bias) → gemm1_out_lowrank",
            "Relu(gemm1_out_lowrank) → relu1_out",
            "Gemm(relu1_out, gemm2.weight, gemm2.bias) → output {alpha=1 beta=1 transB=1}",
        }, Nodes(result.Model));
        Assert.Equal(new[] { "gemm1.bias: float32[32]", "gemm2.weight: float32[10,32]", "gemm2.bias: float32[10]",
            "gemm1.weight_lowrank_a: float32[64,5]", "gemm1.weight_lowrank_b: float32[5,32]" }, Initializers(result.Model));
        Assert.Equal("'gemm2' left alone: it produces a graph output (the classifier); name it among the layers to factorize it", Assert.Single(context.Notes));
        Assert.Equal((2048L, 480L), (result.Stats["parameters-before"], result.Stats["parameters-after"]));
    }
}
