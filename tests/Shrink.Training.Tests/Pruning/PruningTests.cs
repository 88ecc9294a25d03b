using System.Text.Json;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Techniques;
using Shrink.Training;
using Shrink.Training.FineTuning;
using Shrink.Training.Pruning;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Training.Tests.Pruning;

/// <summary>The <c>prune</c> technique from code: what it returns (model, artifacts, notes), its schedules, its options and their checks.</summary>
[Collection("torch")]
public class PruningTests
{
    private static DataSplits Small()
    {
        var data = FashionMnist.LoadEmbedded();
        return new DataSplits(data.Train.Take(512), data.Test.Take(200));
    }

    [Fact]
    public void MagnitudePruningLeavesItsInputAndReturnsMasksThatAreTheZeros()
    {
        var model = ModelZoo.Create("lenet300", seed: 2);
        var before = OnnxWriter.ToBytes(model);
        var result = Pruner.Run(model, new PruneOptions { Sparsity = 0.8 }, TechniqueInputs.None, TechniqueSession.Quiet);
        Assert.Equal(before, OnnxWriter.ToBytes(model));
        var masks = Assert.IsType<PruningMasks>(Assert.Single(result.Artifacts));
        var weights = PrunableWeights.Find(result.Model);
        Assert.Equal(3, weights.Count);
        foreach (var w in weights)
        {
            var values = w.Tensor.AsFloats().ToArray();
            Assert.Equal((int)Math.Round(0.8 * values.Length), values.Count(v => v == 0));
            Assert.Equal(values.Select(v => v != 0), masks.Keep[w.Weight.Name]); // random init has no exact zeros of its own
        }
        Assert.Empty(result.Notes);
    }

    [Fact]
    public void OneshotStructuredPruningIsThePassAndReportsTheKeptChannels()
    {
        var model = ModelZoo.Create("vgg-small", seed: 4);
        var options = new PruneOptions { Method = PruneMethod.Fpgm, Sparsity = 0.5 };
        var result = Pruner.Run(model, options, TechniqueInputs.None, TechniqueSession.Quiet);
        var pass = new StructuredPrunePass(options.Structured()).Run(model, new PassContext()).Model;
        Assert.Equal(OnnxWriter.ToBytes(pass), OnnxWriter.ToBytes(result.Model));
        var kept = result.Artifact<KeptChannels>()!;
        Assert.Equal(7, kept.Groups.Count); // every conv; the classifier makes a graph output
        foreach (var (group, selection) in kept.Groups)
        {
            var weight = result.Model.Graph.Nodes.Single(n => n.DisplayName == group).Inputs[1]!.Const!;
            Assert.Equal(selection.Kept.Length, weight.Dims[0]);
            Assert.Equal(selection.Channels, model.Graph.Nodes.Single(n => n.DisplayName == group).Inputs[1]!.Const!.Dims[0]);
            Assert.Equal(selection.Channels / 2, selection.Kept.Length);
        }
        Assert.Contains(result.Notes, n => n.Contains("graph output"));
    }

    [Fact]
    public void RoundsComposeTheirKeptChannelsIntoIndicesOfTheOriginalOnes()
    {
        var kept = new Dictionary<string, long[]>();
        StructuredPruning.Compose(kept, new Dictionary<string, long[]> { ["a"] = new long[] { 0, 2, 4, 6 } });
        StructuredPruning.Compose(kept, new Dictionary<string, long[]> { ["a"] = new long[] { 1, 3 }, ["b"] = new long[] { 5 } });
        Assert.Equal(new long[] { 2, 6 }, kept["a"]);
        Assert.Equal(new long[] { 5 }, kept["b"]);
    }

    [Fact]
    public void IterativeStructuredPruningFineTunesEachRoundUnderItsOwnLabel()
    {
        var notes = new List<string>();
        var options = new PruneOptions
        {
            Method = PruneMethod.L2Filter, Sparsity = 0.5, Schedule = PruneSchedule.Iterative, Steps = 2, ChannelMultiple = 1,
            FineTune = new FineTuneOptions { Epochs = 1 },
        };
        var result = Pruner.Run(ModelZoo.Create("lenet5"), options, new TechniqueInputs { Data = Small() }, new TechniqueSession { Notes = notes.Add });
        Assert.Contains(notes, n => n.StartsWith("round 1/2 fine-tune epoch 1/1"));
        Assert.Contains(notes, n => n.StartsWith("round 2/2 fine-tune epoch 1/1"));
        // Round 1 cuts 0.5·(1 − 0.5³) ≈ 44 %, round 2 the rest, of the original counts: 20, 50 and 500 channels keep half.
        var kept = result.Artifact<KeptChannels>()!.Groups;
        Assert.Equal(new long[] { 10, 25, 250 }, new[] { "conv1", "conv2", "gemm1" }.Select(g => (long)kept[g].Kept.Length));
        foreach (var selection in kept.Values)
        {
            Assert.Equal(selection.Kept.Order(), selection.Kept);
            Assert.Equal(selection.Kept.Length, selection.Kept.Distinct().Count());
            Assert.InRange(selection.Kept.Max(), 0, selection.Channels - 1);
        }
        Assert.Equal(10, result.Model.Graph.FindInitializer("conv1.weight")!.Const!.Dims[0]);
    }

    [Fact]
    public void AgpEndsAtTheTargetAndReturnsItsMasks()
    {
        var options = new PruneOptions { Sparsity = 0.8, Schedule = PruneSchedule.Agp, FineTune = new FineTuneOptions { Epochs = 1, Batch = 64 } };
        var result = Pruner.Run(ModelZoo.Create("lenet300"), options, new TechniqueInputs { Data = Small() }, TechniqueSession.Quiet);
        var masks = result.Artifact<PruningMasks>()!;
        foreach (var w in PrunableWeights.Find(result.Model))
        {
            var keep = masks.Keep[w.Weight.Name];
            Assert.Equal(0.8, keep.Count(k => !k) / (double)keep.Length, 3); // round(0.8·n) of n
            Assert.Equal(keep, w.Tensor.AsFloats().ToArray().Select(v => v != 0));
        }
    }

    [Fact]
    public void OptionsAreARecipeRecord_EnumsByTheirNames()
    {
        var options = new PruneOptions
        {
            Method = PruneMethod.TaylorFilter, Sparsity = 0.4, Scope = PruneScope.Layer, Schedule = PruneSchedule.Iterative, Steps = 4, ChannelMultiple = 2,
            LayerSparsity = new Dictionary<string, double> { ["conv1"] = 0.5 }, Pattern = new NmPattern(2, 4), FineTune = new FineTuneOptions { Epochs = 2, LearningRate = 0.05 },
        };
        var json = JsonSerializer.Serialize(options, Artifacts.Json);
        Assert.Contains("\"method\": \"taylor-filter\"", json);
        Assert.Contains("\"schedule\": \"iterative\"", json);
        var back = JsonSerializer.Deserialize<PruneOptions>(json, Artifacts.Json)!;
        Assert.Equal(json, JsonSerializer.Serialize(back, Artifacts.Json));
        Assert.Equal(new PruneOptions().FineTune, JsonSerializer.Deserialize<PruneOptions>("{}", Artifacts.Json)!.FineTune);
        foreach (var method in Enum.GetValues<PruneMethod>())
            Assert.Equal($"\"{method.Name()}\"", JsonSerializer.Serialize(method, Artifacts.Json));
    }

    public static TheoryData<PruneOptions, bool, string> BadOptions => new()
    {
        { new PruneOptions(), false, "Sparsity" },
        { new PruneOptions { Sparsity = 1.5 }, false, "Sparsity" },
        { new PruneOptions { Method = PruneMethod.Fpgm, Sparsity = 0.5, Schedule = PruneSchedule.Agp }, false, "Schedule" },
        { new PruneOptions { Method = PruneMethod.Slim, Sparsity = 0.5 }, true, "SlimEpochs" },
        { new PruneOptions { Method = PruneMethod.L1Filter, Sparsity = 0.5, SlimEpochs = 2 }, false, "SlimEpochs" },
        { new PruneOptions { Method = PruneMethod.L1Filter, Sparsity = 0.5, ChannelMultiple = 0 }, false, "ChannelMultiple" },
        { new PruneOptions { Method = PruneMethod.Apoz, Sparsity = 0.5 }, false, "Method" },
        { new PruneOptions { Method = PruneMethod.NM, Pattern = new NmPattern(2, 4), Schedule = PruneSchedule.Iterative }, false, "Pattern" },
        { new PruneOptions { Method = PruneMethod.Random, Sparsity = 0.5, Schedule = PruneSchedule.Agp, FineTune = new FineTuneOptions { Epochs = 1 } }, true, "Method" },
        { new PruneOptions { Sparsity = 0.5, FineTune = new FineTuneOptions { Epochs = 1 } }, false, "Epochs" },
        { new PruneOptions { Sparsity = 0.5, Schedule = PruneSchedule.Iterative, Steps = 0 }, false, "Steps" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void BadOptionsNameTheirPropertyNotAFlag(PruneOptions options, bool hasData, string property)
    {
        var e = Assert.Throws<OptionsException>(() => options.Validate(hasData, hasTeacher: false));
        Assert.Equal(property, e.Option);
        Assert.DoesNotContain("--", e.Message);
        Assert.StartsWith(OptionsException.Words(property), e.Message);
    }

    [Fact]
    public void ThePruneTechniqueIsRegisteredAndRunsThroughItsInterface()
    {
        TrainingTechniques.Register();
        TrainingTechniques.Register(); // again: a no-op
        var technique = TechniqueRegistry.Find("prune");
        Assert.IsType<PruneTechnique>(technique);
        Assert.Equal(typeof(PruneOptions), technique.OptionsType);
        Assert.Contains("sensitivity", TechniqueRegistry.Ids);
        var model = ModelZoo.Create("lenet300", seed: 1);
        var options = new PruneOptions { Method = PruneMethod.NM, Pattern = new NmPattern(2, 4) };
        Assert.Empty(technique.Check(model, options, TechniqueInputs.None));
        var viaRegistry = technique.Run(model, options, TechniqueInputs.None, TechniqueSession.Quiet);
        var direct = Pruner.Run(model, options, TechniqueInputs.None, TechniqueSession.Quiet);
        Assert.Equal(OnnxWriter.ToBytes(direct.Model), OnnxWriter.ToBytes(viaRegistry.Model));
        var b = new Shrink.Builder.NetworkBuilder("flat", 0);
        b.Output(b.Relu(b.Input("input", 4)), "output");
        Assert.Contains("nothing prunable", Assert.Single(technique.Check(b.Build(), new PruneOptions { Sparsity = 0.5 }, TechniqueInputs.None)));
        Assert.Contains("nothing prunable by channel", Assert.Single(technique.Check(b.Build(), new PruneOptions { Method = PruneMethod.Fpgm, Sparsity = 0.5 }, TechniqueInputs.None)));
    }
}
