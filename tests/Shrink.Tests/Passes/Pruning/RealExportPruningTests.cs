using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Ops;
using Shrink.Passes;
using Shrink.Passes.Cleanup;
using Shrink.Passes.Pruning;
using Shrink.Stats;
using Xunit;

namespace Shrink.Tests.Passes.Pruning;

/// <summary>
/// Structured pruning of torchvision exports (tests/data/torch/make_prune_models.py): deduplicated biases, dense
/// blocks (Concat chains, BatchNorm before the convs, Pad), squeeze-excitation with Sigmoid and HardSigmoid gates, SiLU,
/// inception branches, grouped convolutions. The cut model equals the masked model in <see cref="StructuredPrunePassTests"/>.
/// </summary>
public class RealExportPruningTests
{
    public static readonly string[] Names = { "prune_resnet", "prune_densenet", "prune_mobilenet_v3", "prune_efficientnet", "prune_googlenet", "prune_regnet" };

    public static TheoryData<string> Models => new(Names);

    private static Model Load(string name) => OnnxReader.Read(TestModels.TorchPath(name));

    /// <summary>The target: at sparsity 0.5 at least 40 % of the MACs go, with only the classifier left alone.</summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void HalfTheChannelsRemoveAtLeastFortyPercentOfTheMacs(string name)
    {
        var context = new PassContext();
        var result = new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.5 }).Run(Load(name), context);
        var (before, after) = (ModelStats.Compute(Load(name)).Macs, ModelStats.Compute(result.Model).Macs);
        Assert.True(1 - (double)after / before >= 0.40, $"{name}: {after:N0} of {before:N0} MACs left");
        var note = Assert.Single(context.Notes);
        Assert.Matches("^left alone: [^ ]+Gemm: 'output' is a graph output$", note);
    }

    /// <summary>A squeeze-excitation gate ties the channels it gates to the last conv of its branch; its inner width is a group of its own.</summary>
    [Theory]
    [InlineData("prune_mobilenet_v3")]
    [InlineData("prune_efficientnet")]
    [InlineData("prune_regnet")]
    public void SqueezeExcitationGatesTieTheirChannels(string name)
    {
        var model = new UnshareInitializersPass().Run(Load(name), new PassContext()).Model;
        var flow = ChannelFlow.Analyze(model);
        var gated = flow.Groups.Where(g => g.Producers.Any(p => p.Layer.Name.Contains("fc2"))).ToList();
        Assert.NotEmpty(gated);
        Assert.All(gated, g => Assert.Null(g.Blocker));
        Assert.All(gated, g => Assert.True(g.Producers.Count > 1, $"{g.Name} has no producer besides the gate"));
        var inner = flow.Groups.Where(g => g.Producers.Any(p => p.Layer.Name.Contains("fc1"))).ToList();
        Assert.NotEmpty(inner);
        Assert.All(inner, g => Assert.Null(g.Blocker));
    }

    /// <summary>DenseNet's transitions pad before pooling (zero pads on the spatial axes only): the channels go through.</summary>
    [Fact]
    public void DenseBlocksAndPadsAreFollowed()
    {
        var flow = ChannelFlow.Analyze(Load("prune_densenet"));
        Assert.Contains(flow.Steps, s => s is FollowStep { Node.OpType: "Pad" });
        Assert.Equal(new[] { "/classifier/Gemm" }, flow.Groups.Where(g => g.Blocker is not null).Select(g => g.Name));
    }

    /// <summary>A gate read by a layer, not multiplied onto its channels, is not zero where they are pruned: they are left alone.</summary>
    [Fact]
    public void AGateReadByALayerLeavesItsChannelsAlone()
    {
        var b = new Shrink.Builder.NetworkBuilder("gate", seed: 2);
        var x = b.Relu(b.Conv(b.Input("input", 3, 8, 8), 16, 3, padding: 1));
        var y = b.Relu(b.Conv(b.Sigmoid(x), 8, 1));
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(y)), 10));
        var flow = ChannelFlow.Analyze(b.Build());
        Assert.Contains("reads a gate of them", flow.Groups.Single(g => g.Name == "conv1").Blocker);
        Assert.Null(flow.Groups.Single(g => g.Name == "conv2").Blocker);
    }

    [Fact]
    public void PadShapesAreInferred()
    {
        var model = Load("prune_densenet");
        foreach (var v in model.Graph.Nodes.Where(n => n.OpType == "Pad").Select(n => n.Outputs[0]!)) v.Shape = null;
        ShapeInference.Run(model);
        var pad = model.Graph.Nodes.First(n => n.OpType == "Pad");
        Assert.Equal(pad.Inputs[0]!.Shape!.ToString(), pad.Outputs[0]!.Shape!.ToString()); // pads of zero
    }

    /// <summary>At the normal notes level one line per reason: the count, the reason and a few groups; detailed lists each.</summary>
    [Fact]
    public void LeftAloneGroupsAreSummarisedPerReason()
    {
        var alone = new LeftAlone();
        for (var i = 0; i < 5; i++) alone.Add($"conv{i}", $"it feeds Resize 'resize{i}', which Shrink cannot follow channel by channel");
        alone.Add("gemm", "'output' is a graph output");
        var normal = new PassContext();
        alone.WriteTo(normal);
        Assert.Equal(new[]
        {
            "left alone: 5 groups: it feeds Resize '…', which Shrink cannot follow channel by channel (e.g. conv0, conv1, conv2 and 2 more; each one with verbosity detailed)",
            "left alone: gemm: 'output' is a graph output",
        }, normal.Notes);
        var detailed = new PassContext { Verbosity = NotesLevel.Detailed };
        alone.WriteTo(detailed);
        Assert.Equal(6, detailed.Notes.Count);
        Assert.Equal("left alone: conv3: it feeds Resize 'resize3', which Shrink cannot follow channel by channel", detailed.Notes[3]);
    }
}
