using Shrink.Ir;
using Shrink.Runtime;
using Xunit;

namespace Shrink.Training.Tests.Execution;

/// <summary>Where, Expand and Tile against ONNX Runtime: they only select and copy values (tolerance 0).</summary>
[Collection("torch")]
public class IndexingKernelTests
{
    [Fact]
    public void WhereBroadcastsConditionAndBranches()
    {
        var g = new OpGraph(13);
        var x = g.Input(2, 3, 4, 5);
        var mask = g.Input(new HostTensor("mask", new[] { true, false, true, true, false }, new long[] { 1, 1, 1, 5 }), DataType.Bool);
        var masked = g.Op("Where", new[] { mask, x, g.Scalar(-1e4f) });
        var leaky = g.Op("Where", new[] { g.Op("Greater", new[] { x, g.Scalar(0f) }, DataType.Bool), x, g.Op("Mul", new[] { x, g.Scalar(0.1f) }) });
        var picked = g.Op("Where", new[] { g.Op("Less", new[] { g.Ints(3, 1, 4), g.Ints(2, 2, 2) }, DataType.Bool), g.Ints(7, 8, 9), g.Ints(-1) }, DataType.Int64);
        var model = g.Build(masked, leaky, picked);
        OpParity.AssertMatches(model, g.Feeds, 0);
        OpParity.AssertInputGradient(model, g.Feeds);
    }

    [Fact]
    public void ExpandRaisesRankKeepsLargerDimsAndTakesItsShapeAtRunTime()
    {
        var g = new OpGraph(13);
        var column = g.Input(3, 1);
        var middle = g.Input(1, 4, 1);
        var shape = g.Input(new HostTensor("shape", new long[] { 2, 1, 3, 1 }, new long[] { 4 }), DataType.Int64);
        var raised = g.Op("Expand", new[] { column, g.Ints(2, 3, 4) });
        var kept = g.Op("Expand", new[] { middle, g.Ints(3, 1, 5) });
        var dynamic = g.Op("Expand", new[] { column, shape });
        var model = g.Build(raised, kept, dynamic);
        OpParity.AssertMatches(model, g.Feeds, 0);
        OpParity.AssertInputGradient(model, g.Feeds);
    }

    [Fact]
    public void TileRepeatsFromAConstantOrAtRunTime()
    {
        var g = new OpGraph(13);
        var x = g.Input(2, 3, 1, 4);
        var repeats = g.Input(new HostTensor("repeats", new long[] { 1, 2, 3, 1 }, new long[] { 4 }), DataType.Int64);
        var model = g.Build(g.Op("Tile", new[] { x, g.Ints(2, 1, 3, 2) }), g.Op("Tile", new[] { x, repeats }));
        OpParity.AssertMatches(model, g.Feeds, 0);
        OpParity.AssertInputGradient(model, g.Feeds);
    }
}
