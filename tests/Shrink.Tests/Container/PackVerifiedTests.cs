using Shrink.Container;
using Shrink.Data;
using Shrink.Evaluation;
using Xunit;

namespace Shrink.Tests.Container;

/// <summary>Packing from the library: the container and the model it restores, checked against each other before either is used.</summary>
public class PackVerifiedTests
{
    [Fact]
    public void TheRestoredModelHoldsTheClusteredWeightsAndScoresTheSame()
    {
        var clustered = TestModels.Clustered("lenet300", 0.9, 4);

        var (result, restored) = ShrinkContainer.PackVerified(clustered, "m.shrink");

        Assert.NotEmpty(result.Tensors);
        foreach (var t in result.Tensors)
            Assert.Equal(clustered.Graph.FindInitializer(t.Name)!.Const!.AsFloats().ToArray(), restored.Graph.FindInitializer(t.Name)!.Const!.AsFloats().ToArray());
        var test = FashionMnist.LoadEmbedded().Test.Take(200);
        Assert.Equal(ModelEvaluation.Accuracy(clustered, test), ModelEvaluation.Accuracy(restored, test));
        Assert.Equal(result.Bytes, ShrinkContainer.Pack(clustered).Bytes);  // deterministic: the bytes checked are the bytes written
    }

    [Fact]
    public void AModelThatWasNeverClustered_IsRefusedWithoutNamingAFlag()
    {
        var e = Assert.Throws<OptionsException>(() => ShrinkContainer.PackVerified(Shrink.Zoo.ModelZoo.Create("lenet300"), "m.shrink"));
        Assert.StartsWith("the model has no clustered weights", e.Message);
        Assert.DoesNotContain("--", e.Message);
    }
}
