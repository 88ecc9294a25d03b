using Shrink.Passes.Pruning;
using Xunit;

namespace Shrink.Tests.Passes.Pruning;

/// <summary>The data-driven channel criteria measured in ONNX Runtime: APoZ and entropy.</summary>
public class ChannelCriteriaTests
{
    [Fact]
    public void ApozAndEntropyRankTheDeadAndConstantChannelsLowest()
    {
        var data = Shrink.Data.FashionMnist.LoadEmbedded().Train;
        var apoz = ActivationCriteria.Measure(TestModels.WithDeadChannels(), data, PruneMethod.Apoz, samples: 200)["conv1"];
        Assert.Equal(0, apoz[0], 6); // all zeros
        Assert.Equal(1, apoz[1], 6); // never zero
        Assert.All(apoz, v => Assert.InRange(v, 0, 1));
        var entropy = ActivationCriteria.Measure(TestModels.WithDeadChannels(), data, PruneMethod.Entropy, samples: 200)["conv1"];
        Assert.Equal(0, entropy[0], 6);
        Assert.Equal(0, entropy[1], 6);
        Assert.Equal(8, entropy.Length);
        Assert.All(entropy.Skip(2), v => Assert.True(v > 0.5, $"entropy {v}"));

        var pass = new StructuredPrunePass(new StructuredPruneOptions { Method = PruneMethod.Entropy, Sparsity = 0.25, ChannelMultiple = 1,
            ChannelScores = new Dictionary<string, double[]> { ["conv1"] = entropy } });
        var kept = pass.Run(TestModels.WithDeadChannels(), new Shrink.Passes.PassContext()).Artifact<KeptChannels>()!;
        Assert.Equal(new long[] { 2, 3, 4, 5, 6, 7 }, kept["conv1"]);
    }
}
