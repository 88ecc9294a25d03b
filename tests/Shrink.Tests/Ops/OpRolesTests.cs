using Shrink.Ir;
using Shrink.Ops;
using Xunit;
using static Shrink.Tests.Ops.OneNode;
using A = Shrink.Ir.Attribute;

namespace Shrink.Tests.Ops;

/// <summary>The op registry's knowledge that passes read instead of switching on op types: weight layouts, channel flow, quantization roles.</summary>
public class OpRolesTests
{
    private static Value Const(params long[] dims) => new("w", DataType.Float, Shape.Of(dims))
    {
        Const = Tensor.FromFloats("w", dims, new float[dims.Aggregate(1L, (a, d) => a * d)]),
    };

    private static Node Node(string op, Value?[] inputs, params A[] attributes) => Build(op, inputs, attributes).Node;

    [Fact]
    public void Conv_WeightIsOutputChannelsFirst_WithItsGroupsAndOptionalBias()
    {
        var conv = Node("Conv", new[] { In(1, 8, 6, 6), Const(4, 2, 3, 3), Const(4) }, A.Int("group", 4));
        Assert.Equal(new WeightLayout(1, 2, OutputAxis: 0, InputAxis: 1, Groups: 4, Spatial: true), OpRoles.Layer(conv));
        Assert.Null(OpRoles.Layer(Node("Conv", new[] { In(1, 2, 6, 6), Const(4, 2, 3, 3) }))!.Bias);
        Assert.Equal(ChannelFlowKind.Layer, OpRoles.Channels(conv));
        Assert.Equal(QuantizationRole.Weighted, OpRoles.Quantization(conv));
    }

    [Fact]
    public void ConvTranspose_WeightIsInputChannelsFirst()
    {
        var deconv = Node("ConvTranspose", new[] { In(1, 8, 6, 6), Const(8, 3, 2, 2), Const(6) }, A.Int("group", 2));
        Assert.Equal(new WeightLayout(1, 2, OutputAxis: 1, InputAxis: 0, Groups: 2, Spatial: true), OpRoles.Layer(deconv));
        Assert.Equal(QuantizationRole.None, OpRoles.Quantization(deconv)); // the static quantizer does not quantize it
    }

    [Theory]
    [InlineData(0, 0, 1, 0)]
    [InlineData(0, 1, 0, 1)]
    [InlineData(1, 0, 1, 0)]
    [InlineData(1, 1, 0, 1)]
    public void Gemm_TransBPutsOutputChannelsFirst_TransAIsReadTransposed(int transA, int transB, int outputAxis, int inputAxis)
    {
        var w = transB == 1 ? Const(5, 4) : Const(4, 5);
        var x = transA == 1 ? In(4, 2) : In(2, 4);
        var layout = OpRoles.Layer(Node("Gemm", new[] { x, w }, A.Int("transA", transA), A.Int("transB", transB)))!;
        Assert.Equal((1, outputAxis, inputAxis, 1, false), (layout.Weight, layout.OutputAxis, layout.InputAxis, layout.Groups, layout.Spatial));
        Assert.Equal(transA == 1, layout.DataTransposed);
        Assert.Null(layout.Bias);
    }

    [Fact]
    public void MatMul_TheConstantOperandIsTheWeight()
    {
        var right = OpRoles.Layer(Node("MatMul", new[] { In(2, 4), Const(4, 5) }))!;
        Assert.Equal((1, 1, 0, 0), (right.Weight, right.OutputAxis, right.InputAxis, right.Data));
        var batched = OpRoles.Layer(Node("MatMul", new[] { In(3, 2, 4), Const(3, 4, 5) }))!;
        Assert.Equal((2, 1), (batched.OutputAxis, batched.InputAxis));
        var left = OpRoles.Layer(Node("MatMul", new[] { Const(5, 4), In(4, 2) }))!;
        Assert.Equal((0, 0, 1, 1), (left.Weight, left.OutputAxis, left.InputAxis, left.Data));
        Assert.Null(OpRoles.Layer(Node("MatMul", new[] { In(2, 4), In(4, 5) })));
        Assert.Null(OpRoles.Layer(Node("MatMul", new[] { In(2, 4), Const(4) })));
    }

    [Fact]
    public void BatchNormalization_HasPerChannelParametersButIsNoLayer()
    {
        var bn = Node("BatchNormalization", new[] { In(1, 3, 4, 4), Const(3), Const(3), Const(3), Const(3) });
        Assert.Equal(ChannelFlowKind.Normalization, OpRoles.Channels(bn));
        Assert.Equal(new WeightLayout(1, 2, 0, 0, 1, true), OpRoles.Weights(bn));
        Assert.Null(OpRoles.Layer(bn));
        Assert.Equal(new[] { 1, 2, 3, 4 }, OpRegistry.Find("", "BatchNormalization")!.ChannelInputs);
    }

    [Theory]
    [InlineData("Relu", ChannelFlowKind.Elementwise, true, true)]
    [InlineData("Tanh", ChannelFlowKind.Elementwise, true, false)]
    [InlineData("Sigmoid", ChannelFlowKind.Elementwise, false, false)]
    [InlineData("Dropout", ChannelFlowKind.Elementwise, true, false)]
    [InlineData("MaxPool", ChannelFlowKind.Pool, true, false)]
    [InlineData("LpPool", ChannelFlowKind.Pool, false, false)]
    [InlineData("ReduceMean", ChannelFlowKind.Reduce, true, false)]
    [InlineData("ReduceProd", ChannelFlowKind.Reduce, false, false)]
    [InlineData("Add", ChannelFlowKind.Add, false, false)]
    [InlineData("Mul", ChannelFlowKind.Mul, false, false)]
    [InlineData("Pad", ChannelFlowKind.Pad, true, false)]
    [InlineData("Concat", ChannelFlowKind.Concat, false, false)]
    [InlineData("Shape", ChannelFlowKind.ShapeOnly, false, false)]
    [InlineData("Gather", ChannelFlowKind.Opaque, false, false)]
    [InlineData("NoSuchOp", ChannelFlowKind.Opaque, false, false)]
    public void ChannelFlowAndZeros(string op, ChannelFlowKind kind, bool keepsZero, bool rectifier)
    {
        var node = new Node(op, "", "n");
        Assert.Equal(kind, OpRoles.Channels(node));
        Assert.Equal(keepsZero, OpRoles.KeepsZero(node));
        Assert.Equal(rectifier, OpRoles.IsRectifier(node));
    }

    [Theory]
    [InlineData(0f, 6f, true)]
    [InlineData(-1f, 1f, true)]
    [InlineData(0.5f, 6f, false)]
    [InlineData(-6f, -0.5f, false)]
    public void Clip_KeepsZeroWhenZeroLiesWithinItsBounds(float min, float max, bool keepsZero)
    {
        var clip = Node("Clip", new[] { In(1, 4), Scalar(min), Scalar(max) });
        Assert.Equal(keepsZero, OpRoles.KeepsZero(clip));
        Assert.True(OpRoles.IsRectifier(clip));
    }

    private static Value Scalar(float v) => new("s", DataType.Float, Shape.Of()) { Const = Tensor.FromFloats("s", Array.Empty<long>(), new[] { v }) };

    [Fact]
    public void QuantizationRolesAreTheStaticQuantizersOpSets()
    {
        Assert.Equal(new[] { "Conv", "Gemm", "MatMul" }, OpRoles.OpsWith(QuantizationRole.Weighted).Order());
        Assert.Equal(new[] { "Flatten", "MaxPool", "Reshape", "Squeeze", "Transpose", "Unsqueeze" }, OpRoles.OpsWith(QuantizationRole.SameScale).Order());
        Assert.Equal(new[] { "Add", "AveragePool", "Concat", "GlobalAveragePool" }, OpRoles.OpsWith(QuantizationRole.Requantizing).Order());
    }

    /// <summary>stride·(in − 1) + output_padding + (k − 1) + 1 − pads, checked against ONNX Runtime.</summary>
    [Theory]
    [InlineData(4, 2, 0, 0, 9)]
    [InlineData(4, 2, 1, 0, 7)]
    [InlineData(4, 3, 0, 1, 13)]
    [InlineData(5, 1, 0, 0, 7)]
    public void ConvTranspose_ShapesMatchOnnxRuntime(long size, long stride, long pad, long outputPadding, long expected)
    {
        AssertInfers(Shape.Of(1, 6, expected, expected), "ConvTranspose", new[] { In(1, 4, size, size), Const(4, 3, 3, 3) },
            A.Int("group", 2), A.Ints("strides", stride, stride), A.Ints("pads", pad, pad, pad, pad), A.Ints("output_padding", outputPadding, outputPadding));
    }

    [Fact]
    public void ConvTranspose_MacsAreInputElementsTimesOutputChannelsPerGroupTimesKernel()
    {
        var (model, node) = Build("ConvTranspose", new[] { In(1, 4, 5, 5), Const(4, 3, 3, 3) }, new[] { A.Int("group", 2) });
        ShapeInference.Run(model);
        Assert.Equal(4L * 5 * 5 * 3 * 3 * 3, ShapeInference.Macs(model, node));
    }
}
