using Shrink.Ir;
using Shrink.Data;
using Shrink.Onnx;
using Shrink.Tests.Cli;
using Shrink.Tests.Data;
using Shrink.Training.Execution;
using Xunit;
using Attribute = Shrink.Ir.Attribute;

namespace Shrink.Tests.Training.Execution;

/// <summary>What the executor cannot run is named once, in one line: every op, its node count and the settings refused.</summary>
[Collection("torch")]
public class UnsupportedOpTests
{
    private const string Mend = "training and fine-tuning need them — export the model without them (keep post-processing outside the graph), "
        + "or compress it without fine-tuning";

    [Fact]
    public void EveryMissingOpIsListedWithItsNodeCountMostFirst()
    {
        var e = Assert.Throws<UnsupportedOpException>(() => GraphExecutor.Compile(Detector()));
        Assert.Equal($"the executor cannot run 4 ops of this model: NonMaxSuppression (2 nodes), RoiAlign (1), com.example.Decode (1); {Mend}", e.Message);
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
            + Mend, e.Message);
    }

    [Fact]
    public void OneNodeIsNamedInTheSingular()
    {
        var g = new OpGraph(13);
        var e = Assert.Throws<UnsupportedOpException>(() => GraphExecutor.Compile(g.Build(g.Op("Hardmax", g.Input(1, 4)))));
        Assert.StartsWith("the executor cannot run 1 op of this model: Hardmax (1 node); training and fine-tuning need it — export the model without it", e.Message);
    }

    [Fact]
    public void TheCliExitsWithCodeTwoAndTheLineAndWritesNothing()
    {
        using var dir = new TempDirectory();
        var path = dir.File("detector.onnx");
        OnnxWriter.Write(Detector(), path);
        NpyFile.Write(dir.File("x.npy"), NpyArray.FromFloat32(new float[8], new long[] { 1, 2, 4 }));

        var r = CliRunner.Run("run", path, "--input", dir.File("x.npy"), "--out", dir.File("y.npy"), "--engine", "torch");

        CliRunner.AssertBadInput(r, $"the executor cannot run 4 ops of this model: NonMaxSuppression (2 nodes), RoiAlign (1), com.example.Decode (1); {Mend}");
        Assert.False(File.Exists(dir.File("y.npy")));
    }

    /// <summary>A graph of ops the executor lacks (it is never run, only compiled).</summary>
    private static Model Detector()
    {
        var g = new OpGraph(13);
        var x = g.Input(1, 2, 4);
        var decoded = g.Op("Decode", x);
        decoded.Producer!.Domain = "com.example";
        var first = g.Op("NonMaxSuppression", new[] { decoded, x });
        var second = g.Op("NonMaxSuppression", new[] { first, x });
        var model = g.Build(g.Op("RoiAlign", new[] { second, x }));
        model.SetOpset("com.example", 1);
        return model;
    }
}
