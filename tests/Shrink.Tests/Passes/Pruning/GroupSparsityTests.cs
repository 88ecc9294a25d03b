using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Pruning;

/// <summary><see cref="StructuredPruneOptions.GroupSparsity"/>: each named channel group at its own fraction, the rest at <see cref="StructuredPruneOptions.Sparsity"/>.</summary>
public class GroupSparsityTests
{
    private static Dictionary<string, long> Channels(Model m) => ChannelGroups.Find(m).Where(g => g.Blocker is null).ToDictionary(g => g.Key, g => g.Channels);

    [Fact]
    public void Each_named_group_loses_its_own_fraction_and_the_cut_model_runs()
    {
        var model = ModelZoo.Create("vgg-small", 3);
        var before = Channels(model);
        var (first, second) = (before.Keys.First(), before.Keys.Skip(1).First());
        var options = new StructuredPruneOptions { Sparsity = 0.25, ChannelMultiple = 1, GroupSparsity = new Dictionary<string, double> { [first] = 0.5, [second] = 0 } };
        var cut = new PassPipeline(new StructuredPrunePass(options)).Run(model, new PassContext()).Model;
        var after = Channels(cut);

        Assert.Equal(before[first] / 2, after[first]);                 // half
        Assert.Equal(before[second], after[second]);                   // 0: left whole
        foreach (var k in before.Keys.Skip(2).Where(after.ContainsKey))
            Assert.Equal(before[k] - (long)Math.Round(0.25 * before[k]), after[k]);   // the rest at the one sparsity
        using var runner = OnnxRunner.FromModel(cut);
        Assert.Equal(0.25, options.SparsityOf("not named"), 9);
    }

    [Fact]
    public void Bad_group_fractions_are_refused_naming_the_property()
    {
        var e = Assert.Throws<OptionsException>(() => new StructuredPruneOptions { GroupSparsity = new Dictionary<string, double> { ["conv1"] = 1.0 } }.Validate());
        Assert.Equal(nameof(StructuredPruneOptions.GroupSparsity), e.Option);
        Assert.Contains("conv1", e.Message);
        Assert.Equal(nameof(StructuredPruneOptions.GroupSparsity), Assert.Throws<OptionsException>(() =>
            new StructuredPruneOptions { Method = PruneMethod.BnScale, Scope = PruneScope.Global, GroupSparsity = new Dictionary<string, double> { ["conv1"] = 0.5 } }.Validate()).Option);
    }
}
