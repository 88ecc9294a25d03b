using System.Text.Json;
using Shrink.Container;
using Shrink.Onnx;
using Shrink.Passes.Pruning;
using Shrink.Passes.Sharing;
using Shrink.Recipes;
using Shrink.Search;
using Shrink.Techniques;
using Shrink.Training.Optimization;
using Shrink.Training.Pruning;
using Shrink.Training.Sharing;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Training.Tests.Optimization;

/// <summary>
/// The compression space's parameters for the targets (sparsity levels up to 0.97, per-group channel ratios, cluster conv
/// bits, the techniques restriction), the recipe stages a configuration becomes, and the size figure of clustered trials.
/// </summary>
[Collection("torch")]
public class CompressionSpaceTests
{
    public CompressionSpaceTests() => TrainingTechniques.Register();

    private static readonly RecipeData Data = new() { FashionMnist = RecipeData.Embedded, TrainLimit = 128 };
    private static readonly OptimizeOptions Options = new() { MaxAccuracyDrop = 0.5, Trials = 1, MaxEpochs = 2 };

    /// <summary>A report in which <paramref name="tolerant"/> keeps its accuracy up to 0.97 and every other layer loses 10 points at 0.1.</summary>
    private static SensitivityReport Sensitivity(IEnumerable<string> layers, string tolerant) => new(0.9, 1000, "magnitude", layers.Select(l =>
        new LayerSensitivity(l, "Gemm", 1000, CompressionSpace.SensitivitySparsities.Select(s => new SensitivityPoint(s, l == tolerant ? 0.9 : 0.8)).ToList())).ToList());

    private static double[] Choices(SearchSpace space, string name) =>
        ((CategoricalParameter)space[name]).Choices.Select(c => c.GetDouble()).ToArray();

    private static string[] Names(SearchSpace space, string name) =>
        ((CategoricalParameter)space[name]).Choices.Select(c => c.ToString()).ToArray();

    [Fact]
    public void Sparsity_reaches_the_deep_compression_levels_only_where_the_analysis_allows()
    {
        var model = ModelZoo.Create("lenet5", 0);
        var layers = CompressionSpace.LayersOf(model);
        var space = CompressionSpace.For(model, Options, Sensitivity(layers, layers[2]));

        Assert.Equal(0.97, space.SparsityBounds[layers[2]], 9);
        Assert.Equal(new[] { 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97 }, Choices(space.Space, $"sparsity[{layers[2]}]"));
        Assert.Equal(new[] { 0, 0.1, 0.2 }, Choices(space.Space, $"sparsity[{layers[0]}]"));   // intolerant: the 0.2 of headroom
        Assert.Equal(new[] { 4.0, 5, 6, 8 }, Choices(space.Space, "cluster-conv-bits"));
        Assert.False(CompressionSpace.For(ModelZoo.Create("lenet300", 0), Options, Sensitivity([], "")).Space.Parameters.Any(p => p.Name == "cluster-conv-bits"));
    }

    [Fact]
    public void Channel_groups_get_their_own_ratio_up_to_their_bound_beside_the_single_ratio()
    {
        var model = ModelZoo.Create("lenet5", 0);
        var bounds = new Dictionary<string, double> { ["conv1"] = 0.25, ["conv2"] = 0.75 };
        var space = CompressionSpace.For(model, Options, Sensitivity([], ""), channelBounds: bounds).Space;

        Assert.Equal(new[] { "one", "per-group" }, Names(space, "channel-ratios"));
        Assert.Equal(new[] { 0, 0.125, 0.25 }, Choices(space, "channel-ratio[conv1]"));
        Assert.Equal(new[] { 0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75 }, Choices(space, "channel-ratio[conv2]"));
        Assert.Equal("channel-ratios", space["channel-ratio"].Condition!.Parent);
        Assert.Equal("channel-ratios", space["channel-ratio[conv2]"].Condition!.Parent);
        // Without bounds the single ratio hangs on the structure, as before.
        Assert.Equal("structure", CompressionSpace.For(model, Options, Sensitivity([], "")).Space["channel-ratio"].Condition!.Parent);
    }

    [Fact]
    public void The_techniques_restrict_the_space_and_the_first_trial()
    {
        var model = ModelZoo.Create("lenet5", 0);
        var quantize = CompressionSpace.For(model, Options with { Techniques = [CompressionTechnique.Quantize] }, Sensitivity([], ""));
        Assert.Equal(new[] { "none" }, Names(quantize.Space, "structure"));
        Assert.Equal(new[] { "float", "static", "mixed", "dynamic" }, Names(quantize.Space, "weights"));
        Assert.DoesNotContain(quantize.Space.Parameters, p => p.Name.StartsWith("sparsity[", StringComparison.Ordinal) || p.Name.StartsWith("cluster", StringComparison.Ordinal));
        Assert.Equal("static", Assert.Single(quantize.Starting).GetString("weights"));
        Assert.Equal(1, quantize.Space["epochs"].Cardinality);   // nothing to fine-tune

        var deep = CompressionSpace.For(model, Options with { Techniques = [CompressionTechnique.Unstructured, CompressionTechnique.Cluster] }, Sensitivity([], ""));
        Assert.Equal(new[] { "none", "unstructured" }, Names(deep.Space, "structure"));
        Assert.Equal(new[] { "float", "cluster" }, Names(deep.Space, "weights"));
        // Static int8 is not in this space; Deep Compression's pipeline is: every layer at its bound, 4/5-bit sharing, the most epochs.
        var start = Assert.Single(deep.Starting);
        Assert.Equal(("unstructured", "cluster", 4L, 5L, 2L), (start.GetString("structure"), start.GetString("weights"), start.GetInt("cluster-bits"), start.GetInt("cluster-conv-bits"), start.GetInt("epochs")));
        Assert.All(CompressionSpace.LayersOf(model), l => Assert.Equal(deep.SparsityBounds[l], start.GetDouble($"sparsity[{l}]"), 9));
        Assert.Equal(2, CompressionSpace.For(model, Options, Sensitivity([], "")).Starting.Count);
        Assert.Single(CompressionSpace.For(model, Options with { Goal = OptimizeGoal.Latency }, Sensitivity([], "")).Starting);

        Assert.Equal(nameof(OptimizeOptions.Techniques), Assert.Throws<OptionsException>(() => (Options with { Techniques = [] }).Validate()).Option);
        Assert.Equal(nameof(OptimizeOptions.Techniques),
            Assert.Throws<OptionsException>(() => (Options with { Goal = OptimizeGoal.Latency, Techniques = [CompressionTechnique.Cluster] }).Validate()).Option);
        Assert.NotEqual(Options.Identity()[nameof(OptimizeOptions.Techniques)], (Options with { Techniques = [CompressionTechnique.Quantize] }).Identity()[nameof(OptimizeOptions.Techniques)]);
    }

    private static Recipe RecipeOf(SearchSpace space, params (string, object?)[] values) =>
        CompressionPlan.Recipe(space.Check(Configuration.Of(values)), RecipeModel.FromZoo("lenet5"), Data, new RecipeRuntime(), 3);

    [Fact]
    public void A_configuration_becomes_the_stages_of_its_techniques()
    {
        var model = ModelZoo.Create("lenet5", 0);
        var layers = CompressionSpace.LayersOf(model);
        var space = CompressionSpace.For(model, Options, Sensitivity(layers, layers[2]), channelBounds: new Dictionary<string, double> { ["conv1"] = 0.5, ["conv2"] = 0.5 }).Space;
        (string, object?)[] Unstructured(int epochs) => layers.Select(l => ($"sparsity[{l}]", (object?)(l == layers[2] ? 0.97 : 0.0)))
            .Concat([("structure", "unstructured"), ("weights", "cluster"), ("cluster-bits", 4), ("cluster-conv-bits", 5), ("cluster-lr", 0.0001), ("epochs", epochs)]).ToArray();

        var deep = RecipeOf(space, Unstructured(2));
        Assert.Equal(new[] { "prune", "cluster" }, deep.Stages.Select(s => s.Technique));
        var prune = (PruneOptions)deep.Stages[0].Options;
        Assert.Equal(PruneSchedule.Agp, prune.Schedule);   // fine-tuned: pruned gradually over the epochs
        Assert.Equal(new Dictionary<string, double> { [layers[2]] = 0.97 }, prune.LayerSparsity);
        Assert.NotNull(prune.FineTune.Distillation);
        var cluster = (ClusterTechniqueOptions)deep.Stages[1].Options;
        Assert.Equal((4, 5, 0.0001), (cluster.Sharing.Bits, cluster.Sharing.ConvBits, cluster.FineTune.LearningRate));
        Assert.Equal(PruneSchedule.Oneshot, ((PruneOptions)RecipeOf(space, Unstructured(0)).Stages[0].Options).Schedule);

        var perGroup = RecipeOf(space, ("structure", "structured"), ("channel-ratios", "per-group"), ("channel-ratio[conv1]", 0.0), ("channel-ratio[conv2]", 0.375), ("weights", "float"), ("epochs", 1));
        var structured = (PruneOptions)Assert.Single(perGroup.Stages).Options;
        Assert.Equal((PruneMethod.L1Filter, (double?)null), (structured.Method, structured.Sparsity));
        Assert.Equal(new Dictionary<string, double> { ["conv2"] = 0.375 }, structured.GroupSparsity);   // a group at 0 is left out
        Assert.Equal(structured.GroupSparsity, ((PruneOptions)Recipe.Parse(perGroup.ToYaml()).Stages[0].Options).GroupSparsity);
        var none = RecipeOf(space, ("structure", "structured"), ("channel-ratios", "per-group"), ("channel-ratio[conv1]", 0.0), ("channel-ratio[conv2]", 0.0), ("weights", "float"), ("epochs", 0));
        Assert.Equal("fold-constants", Assert.Single(none.Stages).Technique);
        var one = RecipeOf(space, ("structure", "structured"), ("channel-ratios", "one"), ("channel-ratio", 0.25), ("weights", "float"), ("epochs", 0));
        Assert.Equal(0.25, ((PruneOptions)Assert.Single(one.Stages).Options).Sparsity);
    }

    [Fact]
    public void Per_group_ratios_cut_only_the_named_groups_and_an_unknown_group_is_refused()
    {
        var model = ModelZoo.Create("lenet5", 0);
        var before = ChannelGroups.Find(model).ToDictionary(g => g.Key, g => g.Channels);
        var options = new PruneOptions { Method = PruneMethod.L1Filter, GroupSparsity = new Dictionary<string, double> { ["conv2"] = 0.5 } };
        var cut = Pruner.Run(model, options, TechniqueInputs.None, TechniqueSession.Quiet).Model;
        var after = ChannelGroups.Find(cut).ToDictionary(g => g.Key, g => g.Channels);
        var uniform = ChannelGroups.Find(Pruner.Run(model, new PruneOptions { Method = PruneMethod.L1Filter, Sparsity = 0.5 }, TechniqueInputs.None, TechniqueSession.Quiet).Model)
            .ToDictionary(g => g.Key, g => g.Channels);
        Assert.Equal(uniform["conv2"], after["conv2"]);
        Assert.True(after["conv2"] < before["conv2"]);
        Assert.All(before.Keys.Where(k => k != "conv2"), k => Assert.Equal(before[k], after[k]));

        var unknown = options with { GroupSparsity = new Dictionary<string, double> { ["conv9"] = 0.5 } };
        var e = Assert.Throws<OptionsException>(() => Pruner.Run(model, unknown, TechniqueInputs.None, TechniqueSession.Quiet));
        Assert.Equal(nameof(PruneOptions.GroupSparsity), e.Option);
        Assert.Contains("conv9", e.Message);
        Assert.Equal(nameof(PruneOptions.GroupSparsity), Assert.Throws<OptionsException>(() =>
            new PruneOptions { Sparsity = 0.5, GroupSparsity = new Dictionary<string, double> { ["conv2"] = 0.5 } }.Validate(false, false)).Option);
    }

    [Fact]
    public void The_channel_analysis_bounds_every_prunable_group_on_the_eighth_grid()
    {
        var model = ModelZoo.Create("lenet5", 0);
        var report = ChannelSensitivity.Run(model, Shrink.Data.FashionMnist.LoadEmbedded().Test, budget: 0.005, limit: 200);
        Assert.Equal(200, report.Samples);
        Assert.NotEmpty(report.Groups);
        Assert.Contains(report.Groups, g => g.Group == "conv2");
        Assert.All(report.Groups, g =>
        {
            Assert.InRange(g.Bound, 0.125, 0.75);
            Assert.Equal(g.Bound * 8, Math.Round(g.Bound * 8), 9);
            Assert.InRange(g.Scores.Count, 1, ChannelSensitivity.Fractions.Length);
        });
    }

    [Fact]
    public void A_clustered_trial_is_measured_by_its_container_bytes()
    {
        using var dir = new TempDirectory();
        var path = dir.File("lenet5.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet5", 0), path);
        var options = new OptimizeOptions
        {
            MaxAccuracyDrop = 100, Trials = 2, MaxEpochs = 0, LatencyBatches = [1], Seed = 2, Strategy = OptimizeStrategy.Random,
            Techniques = [CompressionTechnique.Cluster],
        };
        var result = Optimizer.Run(RecipeModel.File(path), Data, options, dir.File("run"), TechniqueSession.Quiet);

        var clustered = result.Trials.Where(t => t.Status == "completed" && t.Metrics.ContainsKey(TrialMetrics.ContainerBytes)).ToList();
        Assert.NotEmpty(clustered);
        foreach (var t in clustered)
        {
            var model = OnnxReader.Read(Path.Combine(dir.File("run"), t.Model!));
            Assert.NotEmpty(ClusterPass.ReadBits(model));
            Assert.Equal(ShrinkContainer.Pack(model).Bytes.Length, t.Metrics[TrialMetrics.Bytes]);
            Assert.True(t.Metrics[TrialMetrics.Bytes] < t.Metrics[TrialMetrics.FileBytes] / 4);   // 5–6 bits per weight and Huffman against float32
        }
        Assert.Equal("cluster", result.Best!.Configuration["weights"].GetString());
    }
}
