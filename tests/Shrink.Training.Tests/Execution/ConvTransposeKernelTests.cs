using Shrink.Ir;
using Xunit;
using Attribute = Shrink.Ir.Attribute;

namespace Shrink.Training.Tests.Execution;

/// <summary>
/// ConvTranspose against ONNX Runtime: float32 sums in another order (largest difference measured 1.2e-7 of the
/// output's scale; gate 1e-6, 8× that), for torch's own padding and for the crop-and-extend path (asymmetric pads,
/// output_shape, auto_pad).
/// </summary>
[Collection("torch")]
public class ConvTransposeKernelTests
{
    private const double Tolerance = 1e-6;

    public static TheoryData<string> Cases => new()
    {
        "plain", "stride2-pads1-outpad1-groups2", "asymmetric-dilated-depthwise", "rectangular-outpad-dilated",
        "output-shape", "output-shape-same-upper", "same-upper", "same-lower", "valid", "dilation-outpad", "one-d", "three-d",
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxRuntime(string name)
    {
        var (model, feeds) = Case(name);
        OpParity.AssertMatches(model, feeds, Tolerance, name);
    }

    [Theory]
    [InlineData("stride2-pads1-outpad1-groups2")]
    [InlineData("asymmetric-dilated-depthwise")]
    [InlineData("output-shape")]
    public void GradientsReachInputWeightAndBias(string name)
    {
        var (model, feeds) = Case(name);
        OpParity.AssertInputGradient(model, feeds);
        var node = model.Graph.Nodes.Single();
        OpParity.AssertParameterGradient(model, feeds, node.Inputs[1]!.Name);
        if (node.Inputs.Count > 2) OpParity.AssertParameterGradient(model, feeds, node.Inputs[2]!.Name);
    }

    private static (Model, IReadOnlyList<Shrink.Runtime.HostTensor>) Case(string name)
    {
        var g = new OpGraph(17, seed: name.Length);
        Value Node(long[] input, long[] weight, bool bias, params Attribute[] attributes)
        {
            var x = g.Input(input);
            var inputs = bias ? new[] { x, g.RandomFloats(weight), g.RandomFloats(weight[1] * (long)Group(attributes)) } : new[] { x, g.RandomFloats(weight) };
            return g.Op("ConvTranspose", inputs, attributes);
        }
        var y = name switch
        {
            "plain" => Node(new long[] { 2, 4, 5, 6 }, new long[] { 4, 3, 3, 3 }, true),
            "stride2-pads1-outpad1-groups2" => Node(new long[] { 2, 4, 5, 6 }, new long[] { 4, 3, 3, 3 }, true,
                Attribute.Ints("strides", 2, 2), Attribute.Ints("pads", 1, 1, 1, 1), Attribute.Ints("output_padding", 1, 1), Attribute.Int("group", 2)),
            "asymmetric-dilated-depthwise" => Node(new long[] { 2, 4, 5, 6 }, new long[] { 4, 1, 3, 3 }, true,
                Attribute.Ints("strides", 2, 2), Attribute.Ints("pads", 0, 1, 2, 0), Attribute.Ints("dilations", 2, 2), Attribute.Int("group", 4)),
            "rectangular-outpad-dilated" => Node(new long[] { 1, 3, 4, 5 }, new long[] { 3, 2, 2, 3 }, false,
                Attribute.Ints("strides", 3, 2), Attribute.Ints("pads", 1, 1, 1, 1), Attribute.Ints("output_padding", 2, 1), Attribute.Ints("dilations", 1, 2)),
            "output-shape" => Node(new long[] { 2, 2, 4, 4 }, new long[] { 2, 3, 3, 3 }, true,
                Attribute.Ints("strides", 2, 2), Attribute.Ints("output_shape", 8, 10)),
            "output-shape-same-upper" => Node(new long[] { 2, 2, 4, 4 }, new long[] { 2, 3, 3, 3 }, false,
                Attribute.Ints("strides", 2, 2), Attribute.Ints("output_shape", 7, 8), Attribute.String("auto_pad", "SAME_UPPER")),
            "same-upper" => Node(new long[] { 1, 2, 4, 5 }, new long[] { 2, 2, 5, 3 }, true, Attribute.Ints("strides", 2, 3), Attribute.String("auto_pad", "SAME_UPPER")),
            "same-lower" => Node(new long[] { 1, 2, 4, 5 }, new long[] { 2, 2, 5, 3 }, true, Attribute.Ints("strides", 2, 3), Attribute.String("auto_pad", "SAME_LOWER")),
            "valid" => Node(new long[] { 1, 2, 4, 5 }, new long[] { 2, 2, 3, 3 }, true, Attribute.Ints("strides", 2, 2), Attribute.String("auto_pad", "VALID")),
            "dilation-outpad" => Node(new long[] { 1, 2, 4, 5 }, new long[] { 2, 2, 3, 3 }, true,
                Attribute.Ints("strides", 2, 2), Attribute.Ints("dilations", 3, 2), Attribute.Ints("output_padding", 1, 1)),
            "one-d" => Node(new long[] { 2, 3, 9 }, new long[] { 3, 2, 4 }, true,
                Attribute.Ints("strides", 2), Attribute.Ints("pads", 1, 2), Attribute.Ints("output_padding", 1)),
            _ => Node(new long[] { 1, 2, 3, 4, 5 }, new long[] { 2, 3, 2, 3, 2 }, true,
                Attribute.Ints("strides", 2, 1, 2), Attribute.Ints("pads", 1, 1, 1, 1, 1, 1), Attribute.Ints("output_padding", 1, 0, 1)),
        };
        return (g.Build(y), g.Feeds);
    }

    private static long Group(Attribute[] attributes) => attributes.FirstOrDefault(a => a.Name == "group")?.Value is long v ? v : 1;
}
