using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Runtime;
using Shrink.Stats;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Pruning;

/// <summary>Physical channel removal against the masked model, in ONNX Runtime: outputs equal within 1e-4 of their scale.</summary>
public class StructuredPrunePassTests
{
    public static TheoryData<string, PruneMethod> Cases()
    {
        var data = new TheoryData<string, PruneMethod>();
        foreach (var zoo in ModelZoo.Names)
            foreach (var method in PruneMethods.Structured.Where(m => !m.IsMeasured()))
                if (!method.UsesGamma() || zoo is "vgg-small" or "resnet-small") data.Add(zoo, method);
        foreach (var torch in new[] { "resnet_tiny", "mobilenet_tiny", "squeezenet_tiny", "shufflenet_tiny", "lenet_fmnist" }.Concat(RealExportPruningTests.Names))
            data.Add(torch, PruneMethod.L1Filter);
        data.Add("routes", PruneMethod.L1Filter);
        data.Add("routes", PruneMethod.Fpgm);
        data.Add("routes", PruneMethod.BnScale);
        data.Add("sppf", PruneMethod.L1Filter);
        data.Add("deconv", PruneMethod.L1Filter);
        return data;
    }

    private static Model Load(string name) => name == "routes" ? Routes() : name == "sppf" ? Sppf() : name == "deconv" ? Deconv() : ModelZoo.Names.Contains(name) ? ModelZoo.Create(name, seed: 4) : OnnxReader.Read(TestModels.TorchPath(name));

    /// <summary>
    /// Channels through every routing op the pass follows: Split with sizes, a 1×1 conv into a grouped
    /// conv (4 groups), Concat, a channel shuffle with constant Reshape targets, a Slice of the channel
    /// axis into a depthwise conv, Flatten → Gemm.
    /// </summary>
    /// <summary>YOLO's SPPF: one conv's channels read four times through Concat(x, MaxPool(x), MaxPool²(x), MaxPool³(x)).</summary>
    internal static Model Sppf()
    {
        var b = new Shrink.Builder.NetworkBuilder("sppf", seed: 5);
        var x = b.Relu(b.Conv(b.Input("input", 3, 8, 8), 16, 3, padding: 1));
        var p1 = b.MaxPool(x, 3, 1, 1);
        var p2 = b.MaxPool(p1, 3, 1, 1);
        var p3 = b.MaxPool(p2, 3, 1, 1);
        var y = b.Relu(b.Conv(b.Concat(1, x, p1, p2, p3), 8, 1));
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(y)), 10));
        return b.Build();
    }

    /// <summary>A transposed convolution between two convolutions: its weight [I, O, k, k] reads channels on axis 0 and makes them on axis 1.</summary>
    internal static Model Deconv()
    {
        var b = new Shrink.Builder.NetworkBuilder("deconv", seed: 6);
        var x = b.Relu(b.Conv(b.Input("input", 3, 8, 8), 16, 3, stride: 2, padding: 1));
        var random = new Random(6);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var w = b.Constant("deconv.weight", Tensor.FromFloats("w", new long[] { 16, 12, 2, 2 }, Values(16 * 12 * 4)));
        var bias = b.Constant("deconv.bias", Tensor.FromFloats("b", new long[] { 12 }, Values(12)));
        var up = b.Relu(b.Op("ConvTranspose", new[] { x, w, bias }, Shrink.Ir.Attribute.Ints("strides", 2, 2)));
        var y = b.Relu(b.Conv(up, 8, 3, padding: 1));
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(y)), 10));
        return b.Build();
    }

    internal static Model Routes()
    {
        var b = new Shrink.Builder.NetworkBuilder("routes", seed: 3);
        var x = b.Input("input", 3, 8, 8);
        var r1 = b.Relu(b.BatchNorm(b.Conv(x, 16, 3, padding: 1)));
        var parts = b.Split(r1, 1, 8, 8);
        var a = b.Relu(b.Conv(parts[0], 16, 1));
        var g = b.Relu(b.BatchNorm(b.Conv(a, 16, 3, padding: 1, group: 4)));
        var e = b.Relu(b.Conv(parts[1], 8, 1));
        var cat = b.Concat(1, g, e);
        var shuffled = b.Reshape(b.Op("Transpose", new[] { b.Reshape(cat, 0, 2, 12, 8, 8) }, Shrink.Ir.Attribute.Ints("perm", 0, 2, 1, 3, 4)), 0, 24, 8, 8);
        var tail = b.Op("Slice", new[] { parts[1], b.Constant("slice.starts", Tensor.FromInt64s("s", new long[] { 1 }, new long[] { 2 })),
            b.Constant("slice.ends", Tensor.FromInt64s("e", new long[] { 1 }, new long[] { 8 })), b.Constant("slice.axes", Tensor.FromInt64s("a", new long[] { 1 }, new long[] { 1 })) });
        var d = b.Relu(b.Conv(tail, 6, 3, padding: 1, group: 6));
        var c3 = b.Relu(b.Conv(b.Concat(1, shuffled, d), 8, 1));
        b.Output(b.Linear(b.Flatten(b.MaxPool(c3, 2, 2)), 10));
        return b.Build();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RemovedModelEqualsTheMaskedModel(string name, PruneMethod method)
    {
        var maskPass = new StructuredPrunePass(new StructuredPruneOptions { Method = method, Sparsity = 0.5, MaskOnly = true });
        var removePass = new StructuredPrunePass(new StructuredPruneOptions { Method = method, Sparsity = 0.5 });
        var maskResult = maskPass.Run(Load(name), new PassContext());
        var masked = maskResult.Model;
        var context = new PassContext();
        var result = new PassPipeline(removePass) { VerifyEach = true }.Run(Load(name), context);
        var removed = result.Model;
        Assert.Equal(maskResult.Artifact<KeptChannels>()!.Groups.Keys.Order(), result.Artifact<KeptChannels>()!.Groups.Keys.Order());
        Assert.True(maskResult.Artifact<KeptChannels>()!.MaskOnly);
        Assert.True(result.Modified, string.Join("; ", context.Notes));

        using var a = OnnxRunner.FromModel(masked, new RunnerOptions { Threads = 1 });
        using var b = OnnxRunner.FromModel(removed, new RunnerOptions { Threads = 1 });
        var inputs = name.Contains('_') ? new[] { new HostTensor(a.Inputs[0].Name, TestModels.TorchArray(name, "input").Data, TestModels.TorchArray(name, "input").Shape) }
            : a.RandomInputs(3, seed: 1);
        var expected = (float[])a.Run(inputs)[0].Data;
        var actual = (float[])b.Run(inputs)[0].Data;
        Parity.AssertClose(expected, actual, $"{name} {method}");

        var before = ModelStats.Compute(Load(name));
        var after = ModelStats.Compute(removed);
        Assert.True(after.Parameters < before.Parameters);
        Assert.True(after.Macs < before.Macs);
    }

    [Fact]
    public void ResidualGroupsArePrunedTogetherAndBlockedGroupsAreReported()
    {
        var groups = ChannelGroups.Find(ModelZoo.Create("resnet-small"));
        // The three stages' residual streams tie the stem, every block's second conv and the projections.
        var stream = groups.Where(g => g.Producers.Count > 1).ToList();
        Assert.Equal(3, stream.Count);
        Assert.All(stream, g => Assert.Null(g.Blocker));
        Assert.Equal(new long[] { 16, 32, 64 }, stream.Select(g => g.Channels).Order());

        var context = new PassContext();
        new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.5 }).Run(OnnxReader.Read(TestModels.TorchPath("lenet_fmnist")), context);
        Assert.Contains(context.Notes, n => n.StartsWith("left alone: /fc3/Gemm") && n.Contains("graph output"));
        var transformer = ChannelGroups.Find(OnnxReader.Read(TestModels.TorchPath("transformer_tiny")));
        Assert.Contains(transformer, g => g.Blocker?.Contains("shared with other nodes") == true);
        var output = ChannelGroups.Find(ModelZoo.Create("lenet300")).Single(g => g.Blocker is not null);
        Assert.Contains("graph output", output.Blocker);
    }

    [Fact]
    public void KeptChannelCountsAreRoundedUpToTheMultiple()
    {
        var kept = new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.35 }).Run(ModelZoo.Create("vgg-small"), new PassContext()).Artifact<KeptChannels>()!;
        // 32, 64, 128 and 256 channels keep 21, 42, 83 and 166 before rounding.
        Assert.Equal(new[] { 24, 24, 48, 48, 88, 88, 168 }, kept.Groups.Values.Select(k => k.Kept.Length).Order());
        Assert.Equal(new long[] { 32, 32, 64, 64, 128, 128, 256 }, kept.Groups.Values.Select(k => k.Channels).Order());
        var exact = new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.35, ChannelMultiple = 1 }).Run(ModelZoo.Create("vgg-small"), new PassContext());
        Assert.Equal(new[] { 21, 21, 42, 42, 83, 83, 166 }, exact.Artifact<KeptChannels>()!.Groups.Values.Select(k => k.Kept.Length).Order());
    }

    [Fact]
    public void SparsityOutOfRangeAndUnknownMethodsAreRefused()
    {
        Assert.Throws<OptionsException>(() => new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 1 }));
        Assert.Equal("method magnitude is not a structured pruning method; choose l1-filter, l2-filter, fpgm, bn-scale, slim, apoz, entropy, taylor-filter",
            Assert.Throws<OptionsException>(() => new StructuredPrunePass(new StructuredPruneOptions { Method = PruneMethod.Magnitude, Sparsity = 0.5 })).Message);
        Assert.Equal("channel scores are missing: apoz measures channels on data",
            Assert.Throws<OptionsException>(() => new StructuredPrunePass(new StructuredPruneOptions { Method = PruneMethod.Apoz, Sparsity = 0.5 })).Message);
        Assert.Equal("ChannelMultiple", Assert.Throws<OptionsException>(() => new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.5, ChannelMultiple = 0 })).Option);
        Assert.Contains("bn-scale or slim", Assert.Throws<OptionsException>(() => new StructuredPrunePass(
            new StructuredPruneOptions { Sparsity = 0.5, Scope = PruneScope.Global })).Message);
    }

    /// <summary>The analysis is data: a step per node that makes or reads channels, and no edit; the cut replays the steps.</summary>
    [Fact]
    public void AnalysisRecordsStepsAndTheCutReplaysThem()
    {
        var b = new Shrink.Builder.NetworkBuilder("steps", seed: 1);
        var x = b.Relu(b.BatchNorm(b.Conv(b.Input("input", 3, 8, 8), 8, 3, padding: 1)));
        var y = b.Relu(b.Conv(x, 4, 1));
        b.Output(b.Sigmoid(b.Linear(b.Flatten(b.GlobalAveragePool(y)), 10)), "output");
        var model = b.Build();
        var before = OnnxWriter.ToBytes(model);
        var flow = ChannelFlow.Analyze(model);
        Assert.Equal(before, OnnxWriter.ToBytes(model));
        Assert.Equal(new[] { "LayerStep", "NormalizationStep", "FollowStep", "LayerStep", "FollowStep", "FollowStep", "FlattenStep", "LayerStep", "FollowStep" },
            flow.Steps.Select(s => s.GetType().Name));
        Assert.Equal(new[] { "conv1", "conv2" }, flow.Groups.Where(g => g.Blocker is null).Select(g => g.Key));
        Assert.Contains("graph output", flow.Groups.Single(g => g.Key == "gemm1").Blocker); // a gate is followed, here to the output
        Assert.Equal(4, flow.Parameters.Count); // BatchNorm's scale, bias, mean and variance

        var conv1 = flow.Groups.Single(g => g.Key == "conv1");
        ChannelCut.Apply(flow, new Dictionary<int, long[]> { [conv1.Id] = new long[] { 1, 2, 5 } });
        Assert.Equal(new long[] { 3, 3, 3, 3 }, model.Graph.FindInitializer("conv1.weight")!.Const!.Dims);
        Assert.Equal(new long[] { 4, 3, 1, 1 }, model.Graph.FindInitializer("conv2.weight")!.Const!.Dims);
        Assert.All(model.Graph.Nodes.Single(n => n.OpType == "BatchNormalization").Inputs.Skip(1), v => Assert.Equal(new long[] { 3 }, v!.Const!.Dims));
    }

    [Fact]
    public void RoutedChannelsFollowTheirConstraints()
    {
        var flow = ChannelFlow.Analyze(Routes());
        var routed = flow.Groups.Where(g => g.Name != "gemm1").ToList();
        Assert.NotEmpty(routed);
        Assert.All(routed, g => Assert.Null(g.Blocker));
        var grouped = flow.Groups.Single(g => g.EqualBlocks.Count > 0);
        Assert.Equal(new[] { 4 }, grouped.EqualBlocks);
        Assert.Equal(new[] { 2 }, grouped.Divisors); // it goes through the shuffle
        Assert.Equal(new[] { 4 }, flow.Groups.Single(g => g.PatternBlocks.Count > 0).PatternBlocks);

        var pass = new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.5, ChannelMultiple = 1 });
        var result = pass.Run(Routes(), new PassContext());
        var model = result.Model;
        var kept = result.Artifact<KeptChannels>()!;
        var keep = kept[grouped.Name];
        Assert.Equal(8, keep.Length);
        Assert.All(Enumerable.Range(0, 4), block => Assert.Equal(2, keep.Count(c => c / 4 == block)));
        var feeding = kept[flow.Groups.Single(g => g.PatternBlocks.Count > 0).Name];
        Assert.Equal(feeding.Where(c => c < 4), feeding.Where(c => c >= 12).Select(c => c - 12)); // same positions in every conv group
        var split = model.Graph.Nodes.Single(n => n.OpType == "Split");
        Assert.Equal(8, Graph.ConstantOf(split.Inputs[1])!.ToInt64s().Sum());
        var shuffle = model.Graph.Nodes.First(n => n.OpType == "Reshape");
        Assert.Equal(new long[] { 0, 2, 6, 8, 8 }, Graph.ConstantOf(shuffle.Inputs[1])!.ToInt64s()); // 8 + 4 channels shuffled
    }
}
