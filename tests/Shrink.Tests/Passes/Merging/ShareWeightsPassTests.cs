using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Merging;
using Shrink.Stats;
using Xunit;

namespace Shrink.Tests.Passes.Merging;

/// <summary>share-weights: near-identical tensors become one that several layers read, counted once in the statistics.</summary>
public class ShareWeightsPassTests
{
    /// <summary>Three Linear layers 32 → 32 in a row with ReLUs; the second's weight is the first's plus <paramref name="noise"/> times its scale.</summary>
    private static Model Tower(double noise)
    {
        var model = GraphStructure.Build("tower", new long[] { 32 }, (b, x) => b.Linear(b.Relu(b.Linear(b.Relu(b.Linear(x, 32)), 32)), 32));
        var (w1, w2) = (model.Graph.FindInitializer("gemm1.weight")!, model.Graph.FindInitializer("gemm2.weight")!);
        var values = w1.Const!.AsFloats().ToArray();
        var max = values.Max(Math.Abs);
        var random = new Random(4);
        w2.Const = Tensor.FromFloats(w2.Name, w2.Const!.Dims, values.Select(v => (float)(v + noise * max * (2 * random.NextDouble() - 1))).ToArray());
        return model;
    }

    private static PassResult Run(Model model, double tolerance) =>
        new PassPipeline(new ShareWeightsPass(new ShareWeightsOptions { Tolerance = tolerance })) { VerifyEach = true }.Run(model, new PassContext());

    [Fact]
    public void NearIdenticalWeightsAreSharedAndCountedOnce()
    {
        var model = Tower(1e-7);
        var result = Run(model, 1e-6);
        var merge = Assert.Single(result.Artifact<LayerMerges>()!.Merges);
        Assert.Equal(new[] { "gemm1.weight", "gemm2.weight" }, merge.Layers);
        Assert.Equal(result.Model.Graph.FindNode("gemm1")!.Inputs[1], result.Model.Graph.FindNode("gemm2")!.Inputs[1]);
        Assert.Equal(ModelStats.Compute(model).Parameters - 32 * 32, ModelStats.Compute(result.Model).Parameters);
        Assert.Equal(32 * 32, result.Stats["share-weights.parameters-saved"]);
        SameOutputs.AssertClose(model, result.Model);
    }

    [Fact]
    public void WeightsApartByMoreThanTheToleranceStay()
    {
        Assert.False(Run(Tower(1e-3), 1e-6).Modified);
        Assert.False(Run(Tower(1e-7), 0).Modified);  // 0: bit-identical only
        Assert.True(Run(Tower(0), 0).Modified);
    }

    [Fact]
    public void BadToleranceIsRefusedNamingIt()
    {
        var e = Assert.Throws<OptionsException>(() => new ShareWeightsPass(new ShareWeightsOptions { Tolerance = 1.5 }));
        Assert.Contains("tolerance", e.Message);
    }
}
