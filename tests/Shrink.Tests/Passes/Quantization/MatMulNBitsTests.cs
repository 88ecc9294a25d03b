using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Shrink.Stats;
using Xunit;

namespace Shrink.Tests.Passes.Quantization;

/// <summary>int4 weights for ONNX Runtime's com.microsoft.MatMulNBits: packing, emission, bias, fallbacks and sizes.</summary>
public class MatMulNBitsTests
{
    /// <summary>How a test layer's bias is given: none, Gemm's C, or an Add after the MatMul.</summary>
    private enum Bias { None, GemmC, Add }

    /// <summary>x [batch…, K] → one MatMul or Gemm with seeded weights (B [K, N], or [N, K] with transB) and the bias asked for.</summary>
    private static Model Linear(string op, int k, int n, bool transB = false, Bias bias = Bias.None, long[]? input = null, int seed = 1)
    {
        var random = new Random(seed);
        float Next() => (float)(random.NextDouble() * 2 - 1);
        var model = new Model(new Graph("linear"));
        model.SetOpset("", 17);
        var g = model.Graph;
        var x = new Value("x", DataType.Float, new Shape((input ?? new long[] { 4, k }).Select(d => Dim.Of(d))));
        g.Inputs.Add(x);
        var w = g.AddInitializer(Tensor.FromFloats("w", transB ? new long[] { n, k } : new long[] { k, n }, Enumerable.Range(0, k * n).Select(_ => Next()).ToArray()));
        var layer = new Node(op, "", "layer");
        layer.AddInput(x);
        layer.AddInput(w);
        if (transB) layer.Attributes.Add(Shrink.Ir.Attribute.Int("transB", 1));
        var b = Tensor.FromFloats("b", new long[] { n }, Enumerable.Range(0, n).Select(_ => Next()).ToArray());
        if (bias == Bias.GemmC) layer.AddInput(g.AddInitializer(b));
        var y = layer.AddOutput(new Value("y", DataType.Float))!;
        g.AddNode(layer);
        if (bias == Bias.Add)
        {
            var add = new Node("Add", "", "bias");
            add.AddInput(y);
            add.AddInput(g.AddInitializer(b));
            y = add.AddOutput(new Value("z", DataType.Float))!;
            g.AddNode(add);
        }
        g.Outputs.Add(y);
        return model;
    }

    private static float[] Run(Model model, float[] x, long[] shape)
    {
        using var runner = OnnxRunner.FromModel(model, new RunnerOptions { Threads = 1 });
        return (float[])runner.Run(new[] { new HostTensor("x", x, shape) })[0].Data;
    }

    private static float[] Input(long[] shape, int seed = 7)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, (int)shape.Aggregate(1L, (a, d) => a * d)).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
    }

    [Fact]
    public void SymmetricBlocksPackAsHandComputedWithPaddingToAWholeBlock()
    {
        // N = 3, K = 18, blocks of 16: two blocks per row, the second padded from 2 weights to 16 with the zero point 8.
        var rows = new float[3 * 18];
        rows[0] = -7f;
        for (var k = 1; k < 16; k++) rows[k] = 0.7f;           // scale 7/7 = 1: −7 → level 1, 0.7 → 1 + 8 = 9
        (rows[16], rows[17]) = (3.5f, -1.75f);                 // scale 0.5: 7 + 8 = 15, round(−3.5) = −4 (half to even) + 8 = 4
        rows[2 * 18 + 5] = -0.35f;                             // row 1 all zero: scale 1, every level 8
        var w = MatMulNBits.Quantize(rows, 3, 18, 16, asymmetric: false);
        Assert.Equal(2, w.Blocks);
        Assert.Equal(3 * 2 * 8, w.B.Length);
        Assert.Null(w.ZeroPoints);
        Assert.Equal(new byte[] { 0x91, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x4F, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88 }, w.B[..16]);
        Assert.All(w.B[16..32], b => Assert.Equal(0x88, b));
        Assert.Equal(new[] { 1f, 0.5f, 1f, 1f, (float)(0.35f / 7.0), 1f }, w.Scales);
        Assert.Equal(0x18, w.B[32 + 2]); // row 2, k = 5 (high nibble of byte 2): −0.35 / 0.05 = −7 → 1
        // The same levels as the block-wise int4 of WeightScheme (what the DequantizeLinear form writes), bit for bit.
        var scheme = new WeightScheme { Bits = 4, Granularity = WeightGranularity.BlockWise, Axis = 1, BlockSize = 16 };
        var (levels, scales) = WeightQuantizer.Quantize(rows, new long[] { 3, 18 }, scheme);
        Assert.Equal(scales, w.Scales);
        for (var i = 0; i < rows.Length; i++) Assert.Equal(levels[i] + 8, w.Level(i / 18, i % 18));
    }

    [Fact]
    public void AsymmetricBlocksTakeAZeroPointEachPackedTwoPerByte()
    {
        // Row 0, block 0: min −1, max 2 → scale fl32(3/15), zero point round(1/0.2) = 5; 2 → 10 + 5 = 15, −1 → 0, 0 → 5, 0.5 → 2 + 5 = 7.
        var rows = new float[2 * 40];
        (rows[0], rows[1], rows[2], rows[3]) = (2f, -1f, 0f, 0.5f);
        for (var k = 16; k < 32; k++) rows[k] = 1f;            // block 1: [0, 1] → scale 1/15, zero point 0
        (rows[32], rows[33]) = (-3f, -1.5f);                  // block 2 (8 of 16 weights): [−3, 0] → scale 0.2, zero point 15
        for (var k = 0; k < 40; k++) rows[40 + k] = 0f;       // row 1: all zero → scale 1, zero point 0, levels 0
        var w = MatMulNBits.Quantize(rows, 2, 40, 16, asymmetric: true);
        Assert.Equal(new[] { 0.2f, (float)(1.0 / 15), 0.2f, 1f, 1f, 1f }, w.Scales);
        Assert.Equal(new byte[] { 0x05, 0x0F, 0x00, 0x00 }, w.ZeroPoints); // 2 bytes per row: blocks 0|1, then 2 and padding
        Assert.Equal(new byte[] { 0x0F, 0x75 }, w.B[..2]);
        Assert.Equal(0xFF, w.B[8]);                            // block 1: 1 → 15 + 0
        Assert.Equal(new byte[] { 0x70, 0xFF }, w.B[16..18]); // −3 → 0, −1.5 → round(−7.5) = −8 + 15 = 7; padding at the zero point 15
        Assert.Equal(0xFF, w.B[23]);
        Assert.Equal(-8 * 0.2f, w.Dequantized(0, 33)); // (7 − 15) · 0.2
        Assert.All(w.B[24..], b => Assert.Equal(0x00, b));
    }

    public static TheoryData<string, bool, int, bool> Layers => new()
    {
        { "MatMul", false, (int)Bias.Add, false }, { "MatMul", false, (int)Bias.None, true }, { "Gemm", true, (int)Bias.GemmC, false },
        { "Gemm", false, (int)Bias.GemmC, true }, { "Gemm", true, (int)Bias.None, true },
    };

    [Theory]
    [MemberData(nameof(Layers))]
    public void OnnxRuntimeComputesWhatTheDequantizedWeightsDo(string op, bool transB, int bias, bool asymmetric)
    {
        // K = 40 (not a multiple of 32: the last block padded), N = 24.
        var model = Linear(op, 40, 24, transB, (Bias)bias);
        var context = new PassContext();
        var result = new PassPipeline(new MatMulNBitsPass(new MatMulNBitsOptions { Asymmetric = asymmetric })) { VerifyEach = true }.Run(model, context);
        var node = Assert.Single(result.Model.Graph.Nodes);
        Assert.Equal(("MatMulNBits", "com.microsoft"), (node.OpType, node.Domain));
        Assert.Equal((40L, 24L, 4L, 32L), (node.GetInt("K", 0), node.GetInt("N", 0), node.GetInt("bits", 0), node.GetInt("block_size", 0)));
        Assert.Equal((Bias)bias != Bias.None, node.Inputs.ElementAtOrDefault(5) is { Const: not null }); // the bias is the node's input 5
        Assert.Equal(asymmetric, node.Inputs.ElementAtOrDefault(3) is not null);
        Assert.Equal(1, result.Model.OpsetVersion("com.microsoft"));
        Assert.Equal(17, result.Model.DefaultOpset);

        // The float model with the dequantized weights, laid out as the original's.
        var w = MatMulNBits.Read(node)!;
        var reference = model.Clone();
        var weight = reference.Graph.FindInitializer("w")!;
        var values = new float[40 * 24];
        for (var n = 0; n < 24; n++)
            for (var k = 0; k < 40; k++) values[transB ? n * 40 + k : k * 24 + n] = w.Dequantized(n, k);
        weight.Const = Tensor.FromFloats("w", weight.Const!.Dims, values);
        var shape = new long[] { 4, 40 };
        var x = Input(shape);
        var (expected, actual) = (Run(reference, x, shape), Run(result.Model, x, shape));
        var scale = expected.Max(Math.Abs);
        Assert.All(expected.Zip(actual), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-4 * scale, $"{p.First} vs {p.Second} (scale {scale})"));
        var quantized = result.Artifact<QuantizationParameters>()!.Find("w")!;
        Assert.Equal((DataType.UInt4, 32), (quantized.Type, quantized.BlockSize));
        Assert.Equal(new long[] { 24, 2 }, quantized.ScaleShape);
    }

    [Fact]
    public void MatMulOfABatchOfSequencesKeepsItsShape()
    {
        var model = Linear("MatMul", 64, 16, bias: Bias.Add, input: new long[] { 2, 5, 64 });
        var result = new MatMulNBitsPass(new MatMulNBitsOptions { BlockSize = 16 }).Run(model, new PassContext()).Model;
        var shape = new long[] { 2, 5, 64 };
        var x = Input(shape);
        var (expected, actual) = (Run(model, x, shape), Run(result, x, shape));
        Assert.Equal(expected.Length, actual.Length);
        // Int4 weights of 16 per scale: the products of 64 terms stay within 10 % of the output's scale (measured 2.9 %).
        var scale = expected.Max(Math.Abs);
        Assert.True(expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second)) < 0.1 * scale);
        Assert.Equal("z", result.Graph.Outputs[0].Name);
    }

    [Fact]
    public void BatchedWeightsAreLeftAndABadBlockSizeFallsBackToDequantizeLinearWithANote()
    {
        var batched = Linear("MatMul", 32, 8, input: new long[] { 3, 4, 32 });
        var w = batched.Graph.FindInitializer("w")!;
        w.Const = Tensor.FromFloats("w", new long[] { 3, 32, 8 }, Enumerable.Range(0, 3 * 32 * 8).Select(i => (i % 17 - 8) / 8f).ToArray());
        var context = new PassContext();
        var left = new MatMulNBitsPass(new MatMulNBitsOptions()).Run(batched, context);
        Assert.Equal("MatMul", Assert.Single(left.Model.Graph.Nodes).OpType);
        Assert.Equal(1, left.Stats["left-float"]);
        Assert.Contains("1 layer left in float ('layer'): its weight has rank 3 (a batched MatMul); MatMulNBits takes a 2-D weight", context.Notes);

        // In quantize: the layers MatMulNBits cannot take are written as before, behind DequantizeLinear, with a note.
        // A vector input is fine: ONNX Runtime's kernel reads A of any rank.
        var vector = Quantizer.WeightOnly(Linear("MatMul", 32, 8, input: new long[] { 32 }), new QuantizeOptions { Weights = WeightPrecision.Int4 });
        Assert.Equal(new[] { "MatMulNBits" }, vector.Model.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal(8, Run(vector.Model, Input(new long[] { 32 }), new long[] { 32 }).Length); // and ONNX Runtime runs it
        var plain = Quantizer.WeightOnly(Linear("Gemm", 48, 8, transB: true), new QuantizeOptions { Weights = WeightPrecision.Int4, BlockSize = 24 });
        var dq = Assert.Single(plain.Model.Graph.Nodes, n => n.OpType == "DequantizeLinear");
        Assert.Equal(24, dq.GetInt("block_size", 0));
        Assert.Contains(plain.Notes, n => n.Contains("not MatMulNBits ('layer'): block size 24 is not a power of two of 16 or more"));
        Assert.Throws<OptionsException>(() => new MatMulNBitsPass(new MatMulNBitsOptions { BlockSize = 24 }));
    }

    [Fact]
    public void WeightOnlyInt4WritesMatMulNBitsByDefaultAndConvBehindDequantizeLinear()
    {
        var result = Quantizer.WeightOnly(Shrink.Zoo.ModelZoo.Create("lenet5", seed: 3), new QuantizeOptions { Weights = WeightPrecision.Int4 });
        var nodes = result.Model.Graph.Nodes;
        Assert.Equal(2, nodes.Count(n => n.OpType == "MatMulNBits"));
        Assert.DoesNotContain(nodes, n => n.OpType is "Gemm" or "MatMul");
        Assert.Equal(2, nodes.Count(n => n.OpType == "DequantizeLinear")); // the two Convs, per channel as before
        Assert.Contains(result.Notes, n => n.Contains("int4 weights of 2 MatMul/Gemm layers written for ONNX Runtime's MatMulNBits (com.microsoft; 32 per scale, symmetric)"));
        Assert.Equal(21, result.Model.DefaultOpset); // the Convs' ONNX int4
        Assert.Equal(2, result.Parameters.Tensors.Count(t => t.Type == DataType.UInt4));
    }

    [Fact]
    public void SizeStatisticsCountFourBitsPerWeightAndTheScales()
    {
        var model = Linear("Gemm", 40, 24, transB: true, bias: Bias.GemmC);
        var result = new MatMulNBitsPass(new MatMulNBitsOptions { Asymmetric = true }).Run(model, new PassContext()).Model;
        var stats = ModelStats.Compute(result);
        Assert.Equal(40 * 24 + 24 + 24 * 2 + 24, stats.Parameters);      // K·N weights, N biases, N·blocks scales, N bytes of zero points
        Assert.Equal(24 * 2 * 16 + 48 * 4 + 24 * 4 + 24, stats.PackedBytes); // B: 4 bits each, rows padded to 64; float scales and biases; zero points
        var before = ModelStats.Compute(model);
        Assert.True(stats.NonZero > 0.8 * before.NonZero && stats.NonZero <= before.NonZero + 72, $"{stats.NonZero} of {before.NonZero}");
        Assert.Equal(before.Macs, stats.Macs);
        Assert.True(stats.MacsComplete);
    }
}
