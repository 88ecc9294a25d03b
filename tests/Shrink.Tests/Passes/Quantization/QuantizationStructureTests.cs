using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Quantization;
using Xunit;
using static Shrink.Tests.Passes.GraphStructure;

namespace Shrink.Tests.Passes.Quantization;

/// <summary>The quantization passes and BatchNorm folding on small graphs: the whole output graph, node by node and initializer by initializer.</summary>
public class QuantizationStructureTests
{
    [Fact]
    public void FoldBatchNormLeavesTheConvWithNewWeightsAndBias()
    {
        var model = Build("bn", new long[] { 3, 6, 6 }, (b, x) => b.Relu(b.BatchNorm(b.Conv(x, 4, 3))));
        var result = new FoldBatchNormPass().Run(model, new PassContext());
        Assert.Equal(new[]
        {
            "Conv(input, conv1.weight, conv1.bias) → conv1_out {kernel_shape=[3,3] strides=[1,1] pads=[0,0,0,0] group=1}",
            "Relu(conv1_out) → output",
        }, Nodes(result.Model));
        Assert.Equal(new[] { "conv1.weight: float32[4,3,3,3]", "conv1.bias: float32[4]" }, Initializers(result.Model));
    }

    [Fact]
    public void StaticQuantizationPlacesQdqAroundTheLayersAndSharesScalesThroughPoolAndFlatten()
    {
        var model = Build("qs", new long[] { 1, 6, 6 }, (b, x) => b.Linear(b.Flatten(b.MaxPool(b.Relu(b.Conv(x, 2, 3)), 2, 2)), 3));
        var plan = new QuantizeStaticPass(new QuantizationOptions()).Plan(model.Clone());
        Assert.Equal(new[] { "input", "relu1_out" }, plan.CalibrationValues); // the Relu is absorbed: its output's range quantizes the conv
        var ranges = new Dictionary<string, (double, double)> { ["input"] = (0, 1), ["relu1_out"] = (0, 4) };
        var result = new QuantizeStaticPass(new QuantizationOptions { ReduceRange = ReduceRange.Off }, ranges).Run(model, new PassContext());
        Assert.Equal(new[]
        {
            "QuantizeLinear(input, input_scale, input_zero_point) → input_quantized",
            "DequantizeLinear(input_quantized, input_scale, input_zero_point) → input_dequantized",
            "DequantizeLinear(gemm1.bias_quantized, gemm1.bias_scale, gemm1.bias_zero_point) → gemm1_bias_dequantized {axis=0}",
            "DequantizeLinear(gemm1.weight_quantized, gemm1.weight_scale, gemm1.weight_zero_point) → gemm1_weight_dequantized {axis=0}",
            "DequantizeLinear(conv1.bias_quantized, conv1.bias_scale, conv1.bias_zero_point) → conv1_bias_dequantized {axis=0}",
            "DequantizeLinear(conv1.weight_quantized, conv1.weight_scale, conv1.weight_zero_point) → conv1_weight_dequantized {axis=0}",
            "Conv(input_dequantized, conv1_weight_dequantized, conv1_bias_dequantized) → conv1_out {kernel_shape=[3,3] strides=[1,1] pads=[0,0,0,0] group=1}",
            "QuantizeLinear(conv1_out, conv1_out_scale, conv1_out_zero_point) → conv1_out_quantized",
            "DequantizeLinear(conv1_out_quantized, conv1_out_scale, conv1_out_zero_point) → conv1_out_dequantized",
            "MaxPool(conv1_out_dequantized) → maxpool1_out {kernel_shape=[2,2] strides=[2,2] pads=[0,0,0,0]}",
            "QuantizeLinear(maxpool1_out, conv1_out_scale, conv1_out_zero_point) → maxpool1_out_quantized",
            "DequantizeLinear(maxpool1_out_quantized, conv1_out_scale, conv1_out_zero_point) → maxpool1_out_dequantized",
            "Flatten(maxpool1_out_dequantized) → flatten1_out {axis=1}",
            "QuantizeLinear(flatten1_out, conv1_out_scale, conv1_out_zero_point) → flatten1_out_quantized",
            "DequantizeLinear(flatten1_out_quantized, conv1_out_scale, conv1_out_zero_point) → flatten1_out_dequantized",
            "Gemm(flatten1_out_dequantized, gemm1_weight_dequantized, gemm1_bias_dequantized) → output {alpha=1 beta=1 transB=1}", // the logits stay float
        }, Nodes(result.Model));
        Assert.Equal(new[]
        {
            "conv1.weight_quantized: int8[2,1,3,3]", "conv1.weight_scale: float32[2]", "conv1.weight_zero_point: int8[2]",
            "conv1.bias_quantized: int32[2]", "conv1.bias_scale: float32[2]", "conv1.bias_zero_point: int32[2]",
            "gemm1.weight_quantized: int8[3,8]", "gemm1.weight_scale: float32[3]", "gemm1.weight_zero_point: int8[3]",
            "gemm1.bias_quantized: int32[3]", "gemm1.bias_scale: float32[3]", "gemm1.bias_zero_point: int32[3]",
            "input_scale: float32[]", "input_zero_point: uint8[]", "conv1_out_scale: float32[]", "conv1_out_zero_point: uint8[]",
        }, Initializers(result.Model));
        // uint8 over [0, 4]: scale 4/255, zero point 0 (the ReLU's clamp is the zero point's).
        Assert.Equal(4f / 255, result.Model.Graph.FindInitializer("conv1_out_scale")!.Const!.AsFloats()[0]);
        Assert.Equal(0, result.Model.Graph.FindInitializer("conv1_out_zero_point")!.Const!.RawData[0]);
    }

    [Fact]
    public void DynamicQuantizationRewritesAMatMulIntoIntegerKernels()
    {
        var model = Build("qd", new long[] { 8 }, (b, x) => b.MatMul(x, 4));
        var result = new QuantizeDynamicPass(new QuantizationOptions { ReduceRange = ReduceRange.Off }).Run(model, new PassContext());
        Assert.Equal(new[]
        {
            "DynamicQuantizeLinear(input) → input_quantized, input_scale, input_zero_point",
            "MatMulInteger(input_quantized, matmul1.weight_quantized, input_zero_point, matmul1.weight_zero_point) → matmul1_MatMulInteger_out",
            "Cast(matmul1_MatMulInteger_out) → matmul1_Cast_out {to=1}",
            "Mul(input_scale, matmul1.weight_scale) → matmul1_Mul_out",
            "Mul(matmul1_Cast_out, matmul1_Mul_out) → output",
        }, Nodes(result.Model));
        Assert.Equal(new[] { "matmul1.weight_quantized: int8[8,4]", "matmul1.weight_scale: float32[4]", "matmul1.weight_zero_point: int8[4]" },
            Initializers(result.Model));
    }
}
