using Shrink.Passes.Factorization;
using Shrink.Passes.Pruning;
using Shrink.Passes.Sharing;
using Shrink.Text;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Pruning;

/// <summary>A layer list naming no layer with weights is refused with a message naming the option that lists them.</summary>
public class PrunableWeightsTests
{
    private static readonly OptionNaming Marked = o => $"<{o.Property}>";

    [Fact]
    public void UnknownLayersAreRefusedNamingTheLayerOption()
    {
        var model = ModelZoo.Create("lenet300");
        var cluster = new ClusterPass(new ClusterOptions { LayerBits = new Dictionary<string, int> { ["nosuch"] = 4 }, OnlyListed = true }).Refusal(model)!;
        Assert.Equal("LayerBits", Assert.Single(cluster.Options).Property);
        Assert.StartsWith("layer bits names 'nosuch', not a layer with weights; layers: gemm1, gemm2, gemm3", cluster.ToString());
        Assert.StartsWith("<LayerBits> names 'nosuch'", cluster.Render(Marked));

        var factorize = new LowRankPass(new LowRankOptions { Layers = new HashSet<string> { "nosuch", "gemm1" } });
        Assert.Equal("layers names 'nosuch', not a layer with weights; layers: gemm1, gemm2, gemm3", factorize.CheckPreconditions(model));
        var e = Assert.Throws<OptionsException>(() => factorize.Run(model, new Shrink.Passes.PassContext()));
        Assert.Equal("Layers", Assert.Single(e.Wording.Options).Property);
        Assert.DoesNotContain("--", e.Message);
    }

    [Fact]
    public void OtherRefusalsNameNoOption()
    {
        var empty = new Shrink.Ir.Model(new Shrink.Ir.Graph());
        var refusal = PrunableWeights.Refusal(empty, new[] { "nosuch" }, "cluster", nameof(ClusterOptions.LayerBits))!;
        Assert.Equal("the model has no Conv, ConvTranspose, Gemm or MatMul with a float weight initializer to cluster", refusal.ToString());
        Assert.Empty(refusal.Options);
        Assert.Null(PrunableWeights.Refusal(ModelZoo.Create("lenet300"), new[] { "gemm2" }, "factorize", nameof(LowRankOptions.Layers)));
    }
}
