using Shrink.Ir;
using Shrink.Runtime;
using Xunit;
using Attribute = Shrink.Ir.Attribute;

namespace Shrink.Training.Tests.Execution;

/// <summary>Pad against ONNX Runtime on a [2,3,4,5] input: padding only copies values, so the outputs are equal (tolerance 0).</summary>
[Collection("torch")]
public class PadKernelTests
{
    public static TheoryData<string, long[]> Cases => new()
    {
        { "constant", new long[] { 0, 1, -1, 2, 0, 0, 2, -2 } },
        { "reflect", new long[] { 0, 0, 1, 2, 0, 0, 3, 4 } },
        { "reflect", new long[] { 0, 2, 0, 0, 0, 1, 0, 0 } },
        { "reflect", new long[] { 0, 0, -1, 2, 0, 0, 2, -1 } },
        { "edge", new long[] { 1, 0, 2, 3, 0, 2, 1, 0 } },
        { "edge", new long[] { 0, 0, -2, 1, 0, 0, 3, -1 } },
        { "wrap", new long[] { 0, 0, 2, 3, 0, 0, 1, 4 } },
        { "wrap", new long[] { 0, 0, -1, 2, 0, 0, 2, -1 } },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void PadsAsAnInputMatchOnnxRuntime(string mode, long[] pads)
    {
        var g = new OpGraph(mode == "wrap" ? 19 : 13);
        var x = g.Input(2, 3, 4, 5);
        var value = mode == "constant" ? g.Scalar(0.75f) : null;
        var model = g.Build(g.Op("Pad", new[] { x, g.Ints(pads), value }, Attribute.String("mode", mode)));
        OpParity.AssertMatches(model, g.Feeds, 0, $"{mode} [{string.Join(",", pads)}]");
    }

    [Theory]
    [InlineData("constant")]
    [InlineData("reflect")]
    [InlineData("edge")]
    public void OpsetTenAttributeFormMatchesOnnxRuntime(string mode)
    {
        var g = new OpGraph(10);
        var x = g.Input(2, 3, 4, 5);
        var model = g.Build(g.Op("Pad", x, Attribute.String("mode", mode), Attribute.Ints("pads", 0, 0, 2, 1, 0, 0, 1, 3), Attribute.Float("value", -1.5f)));
        OpParity.AssertMatches(model, g.Feeds, 0, mode);
    }

    [Fact]
    public void AxesPadsComputedAtRunTimeAndAnOmittedValueMatchOnnxRuntime()
    {
        var g = new OpGraph(18);
        var x = g.Input(2, 3, 4, 5);
        var pads = g.Input(new HostTensor("pads", new long[] { 1, 2, 0, 3 }, new long[] { 4 }), DataType.Int64);
        var byAxes = g.Op("Pad", new[] { x, g.Ints(2, 1, 1, 0), null, g.Ints(-1, 2) }, Attribute.String("mode", "reflect"));
        var atRunTime = g.Op("Pad", new[] { x, pads, null, g.Ints(1, 3) }, Attribute.String("mode", "constant"));
        OpParity.AssertMatches(g.Build(byAxes, atRunTime), g.Feeds, 0, "axes");
    }

    [Theory]
    [InlineData("constant")]
    [InlineData("reflect")]
    [InlineData("edge")]
    [InlineData("wrap")]
    public void GradientsReachThePixelsRead(string mode)
    {
        var g = new OpGraph(19);
        var x = g.Input(1, 2, 4, 5);
        var model = g.Build(g.Op("Pad", new[] { x, g.Ints(0, 0, 3, -1, 0, 1, 2, 4) }, Attribute.String("mode", mode)));
        OpParity.AssertInputGradient(model, g.Feeds);
    }
}
