using Shrink.Passes;
using Shrink.Passes.Factorization;
using Shrink.Passes.Merging;
using Shrink.Techniques;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Merging;

/// <summary>The merge technique from C#: the registry finds it, Only chooses the passes, the artifact gathers every merge.</summary>
public class MergeTechniqueTests
{
    [Fact]
    public void OnlyChoosesThePassesAndTheArtifactGathersTheirMerges()
    {
        var model = new LowRankPass(new LowRankOptions { Energy = null, Ratio = 0.2 }).Run(ModelZoo.Create("lenet300", seed: 1), new PassContext()).Model;
        var technique = TechniqueRegistry.Find("merge");
        Assert.Equal(typeof(MergeOptions), technique.OptionsType);
        var share = technique.Run(model, new MergeOptions { Only = new HashSet<MergeKind> { MergeKind.Share } }, TechniqueInputs.None, TechniqueSession.Quiet);
        Assert.Empty(share.Artifact<LayerMerges>()!.Merges);  // random weights: nothing near-identical
        var options = new MergeOptions { Only = new HashSet<MergeKind> { MergeKind.Consecutive, MergeKind.Share }, Consecutive = new() { Force = true } };
        var merged = technique.Run(model, options, TechniqueInputs.None, TechniqueSession.Quiet);
        var merges = merged.Artifact<LayerMerges>()!.Merges;
        Assert.Equal(2, merges.Count);
        Assert.All(merges, m => Assert.Equal(MergeKind.Consecutive, m.Kind));
        SameOutputs.AssertClose(model, merged.Model);
        Assert.Throws<OptionsException>(() => technique.Run(model, new MergeOptions { Only = new HashSet<MergeKind>() }, TechniqueInputs.None, TechniqueSession.Quiet));
    }
}
