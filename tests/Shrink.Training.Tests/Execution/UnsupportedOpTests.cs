using Shrink.Ir;
using Shrink.Data;
using Shrink.Onnx;
using Shrink.Training.Execution;
using Xunit;
using Attribute = Shrink.Ir.Attribute;

namespace Shrink.Training.Tests.Execution;

/// <summary>What the executor cannot run is named once, in one line: every op, its node count and the settings refused.</summary>
[Collection("torch")]
public class UnsupportedOpTests
{
    [Fact]
    public void EveryMissingOpIsListedWithItsNodeCountMostFirst()
    {
        var e = Assert.Throws<UnsupportedOpException>(() => GraphExecutor.Compile(UnsupportedOps.Detector()));
        Assert.Equal($"the executor cannot run 4 ops of this model: NonMaxSuppression (2 nodes), RoiAlign (1), com.example.Decode (1); {UnsupportedOps.Mend}", e.Message);
        Assert.Equal(new[] { "NonMaxSuppression", "RoiAlign", "com.example.Decode" }, e.Ops);
        Assert.Equal(new[] { 2, 1, 1 }, e.Unsupported.Select(u => u.Nodes));
    }

    [Fact]
    public void RefusedSettingsJoinTheMissingOpsInTheSameLine()
    {
        var g = new OpGraph(13);
        var x = g.Input(1, 2, 4, 4);
        var hard = g.Op("Hardmax", x);
        var cubic = g.Op("Resize", new[] { hard, g.Floats(0, 0, 0, 0, 1, 1, 1, 1), g.Floats(1, 1, 2, 2) },
            Attribute.String("mode", "cubic"), Attribute.String("coordinate_transformation_mode", "tf_crop_and_resize"));
        var e = Assert.Throws<UnsupportedOpException>(() => GraphExecutor.Compile(g.Build(cubic)));
        Assert.Equal("the executor cannot run 2 ops of this model: Hardmax (1 node), Resize (1: coordinate_transformation_mode 'tf_crop_and_resize'); "
            + UnsupportedOps.Mend, e.Message);
    }

    [Fact]
    public void OneNodeIsNamedInTheSingular()
    {
        var g = new OpGraph(13);
        var e = Assert.Throws<UnsupportedOpException>(() => GraphExecutor.Compile(g.Build(g.Op("Hardmax", g.Input(1, 4)))));
        Assert.StartsWith("the executor cannot run 1 op of this model: Hardmax (1 node); training and fine-tuning need it — export the model without it", e.Message);
    }
}
