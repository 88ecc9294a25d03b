using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Shrink.Stats;
using Xunit;

namespace Shrink.Tests.Passes.Quantization;

/// <summary>
/// <see cref="MatMulNBits.WeightCounts"/> and <see cref="MatMulNBits.Read"/>: GatherBlockQuantized's unpadded rows counted as
/// ONNX Runtime reads them, nodes ONNX Runtime refuses refused with one line, and external weights left unread for inspect.
/// </summary>
public class NBitsWeightCountsTests
{
    /// <summary>ids [rows] → GatherBlockQuantized of seeded uint8 data [rows, width / 2] with scales and zero points.</summary>
    private static Model Gathered(int rows, int width, long block, long[]? scaleDims = null)
    {
        var random = new Random(5);
        var model = new Model(new Graph("gathered"));
        model.SetOpset("", 17);
        model.SetOpset(MatMulNBits.Domain, 1);
        var g = model.Graph;
        var ids = new Value("ids", DataType.Int64, Shape.Of(rows));
        g.Inputs.Add(ids);
        var blocks = (width + block - 1) / block;
        var data = new byte[rows * width / 2];
        random.NextBytes(data);
        var zeros = new byte[rows * ((blocks + 1) / 2)];
        random.NextBytes(zeros);
        scaleDims ??= new[] { rows, blocks };
        var node = new Node("GatherBlockQuantized", MatMulNBits.Domain, "gbq");
        node.AddInput(g.AddInitializer(new Tensor("table_Q4", DataType.UInt8, new long[] { rows, width / 2 }, data)));
        node.AddInput(ids);
        node.AddInput(g.AddInitializer(Tensor.FromFloats("table_scales", scaleDims, Enumerable.Range(0, (int)(scaleDims[0] * scaleDims[1])).Select(i => 0.25f + i / 64f).ToArray())));
        node.AddInput(g.AddInitializer(new Tensor("table_zero_points", DataType.UInt8, new long[] { rows, (blocks + 1) / 2 }, zeros)));
        node.Attributes.AddRange(new[] { Shrink.Ir.Attribute.Int("gather_axis", 0), Shrink.Ir.Attribute.Int("quantize_axis", 1), Shrink.Ir.Attribute.Int("block_size", block), Shrink.Ir.Attribute.Int("bits", 4) });
        g.Outputs.Add(node.AddOutput(new Value("y", DataType.Float))!);
        g.AddNode(node);
        return model;
    }

    /// <summary>x [1, K] → MatMulNBits with B [N, blocks, block / 2], scales [N·blocks] and <paramref name="zeroPoints"/> bytes of zero points.</summary>
    private static Model NBits(int k, int n, int block, int zeroPoints)
    {
        var model = new Model(new Graph("nbits"));
        model.SetOpset("", 17);
        model.SetOpset(MatMulNBits.Domain, 1);
        var g = model.Graph;
        var x = new Value("x", DataType.Float, Shape.Of(1, k));
        g.Inputs.Add(x);
        var blocks = (k + block - 1) / block;
        var node = new Node("MatMulNBits", MatMulNBits.Domain, "mm");
        node.AddInput(x);
        node.AddInput(g.AddInitializer(new Tensor("w_Q4", DataType.UInt8, new long[] { n, blocks, block / 2 }, Enumerable.Range(0, n * blocks * block / 2).Select(i => (byte)i).ToArray())));
        node.AddInput(g.AddInitializer(Tensor.FromFloats("w_scales", new long[] { n * blocks }, Enumerable.Repeat(0.5f, n * blocks).ToArray())));
        node.AddInput(g.AddInitializer(new Tensor("w_zero_points", DataType.UInt8, new long[] { zeroPoints }, new byte[zeroPoints])));
        node.Attributes.AddRange(new[] { Shrink.Ir.Attribute.Int("K", k), Shrink.Ir.Attribute.Int("N", n), Shrink.Ir.Attribute.Int("bits", 4), Shrink.Ir.Attribute.Int("block_size", block) });
        g.Outputs.Add(node.AddOutput(new Value("y", DataType.Float))!);
        g.AddNode(node);
        return model;
    }

    /// <summary>
    /// A width that is not a multiple of the block size (48 in blocks of 32): ONNX Runtime reads the data's rows unpadded,
    /// and so do the counts; every gathered value is the dequantized level, and the non-zero count is ONNX Runtime's.
    /// </summary>
    [Fact]
    public void UnpaddedRows_AreCountedAndDequantizedAsOnnxRuntimeGathersThem()
    {
        var model = Gathered(rows: 3, width: 48, block: 32);

        using var runner = OnnxRunner.FromModel(model);
        var y = (float[])runner.Run([new HostTensor("ids", new long[] { 0, 1, 2 }, [3])])[0].Data;
        var counts = MatMulNBits.WeightCounts(model);

        var g = model.Graph;
        var w = new NBitsWeights(3, 48, 32, g.FindInitializer("table_Q4")!.Const!.Bytes.ToArray(), g.FindInitializer("table_scales")!.Const!.Floats.ToArray(),
            g.FindInitializer("table_zero_points")!.Const!.Bytes.ToArray(), PaddedRows: false);
        Assert.Equal(3 * 48, y.Length);
        for (var i = 0; i < y.Length; i++) Assert.Equal(w.Dequantized(i / 48, i % 48), y[i]);
        Assert.Equal((3L * 48, (long)y.Count(v => v != 0)), counts["table_Q4"]);
    }

    public static TheoryData<string, Func<Model>, string> BadNodes => new()
    {
        { "block size", () => Gathered(3, 48, block: 24), "GatherBlockQuantized node 'gbq' has block_size 24, which ONNX Runtime refuses: it must be a power of two of 16 or more" },
        { "scales", () => Gathered(3, 48, block: 16, scaleDims: [3, 1]), "GatherBlockQuantized node 'gbq' has scales [3,1], expected [3,3] (rows × ⌈48 / block_size 16⌉)" },
        { "zero points", () => NBits(k: 32, n: 2, block: 16, zeroPoints: 1), "MatMulNBits node 'mm' has zero_points of 1 elements, expected 2 (N·⌈⌈K / block_size⌉ / 2⌉ = 2·1)" },
        { "MatMulNBits block size", () => NBits(k: 32, n: 2, block: 8, zeroPoints: 2), "MatMulNBits node 'mm' has block_size 8, which ONNX Runtime refuses" },
    };

    [Theory]
    [MemberData(nameof(BadNodes))]
    public void ANodeOnnxRuntimeRefuses_IsAOneLineModelFormatError(string what, Func<Model> model, string expected)
    {
        var e = Assert.Throws<ModelFormatException>(() => ModelStats.Compute(model()));

        Assert.StartsWith(expected, e.Message);
        Assert.EndsWith("; the model is corrupt: export or quantize it again", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.NotEmpty(what);
    }

    /// <summary>Inspect without --count-nonzero reads no external weight for these counts; with it, reads them without loading.</summary>
    [Fact]
    public void ExternalWeights_AreNotReadUnlessCountedAndNeverLoaded()
    {
        using var dir = new TempDirectory();
        var original = Gathered(rows: 4, width: 64, block: 32);
        var expected = MatMulNBits.WeightCounts(original)["table_Q4"];
        OnnxWriter.Write(original, dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true, ExternalThreshold = 16 });
        var model = OnnxReader.Read(dir.File("m.onnx"));
        var data = model.Graph.FindInitializer("table_Q4")!.Const!;
        Assert.Equal(TensorStorage.External, data.Storage);

        var inspected = ModelStats.Compute(model, dir.File("m.onnx"), countUnloaded: false);
        var external = model.Graph.Initializers.Select(v => v.Const!).Where(t => t.Storage == TensorStorage.External).ToList();
        Assert.Contains(data, external);
        Assert.All(external, t => Assert.False(t.IsLoaded, $"'{t.Name}' was loaded"));
        Assert.Equal(4 * 64, MatMulNBits.WeightCounts(model, countUnloaded: false)["table_Q4"].NonZero);  // not read: all counted non-zero
        Assert.True(inspected.UncountedParameters >= 4 * 64, $"{inspected.UncountedParameters} uncounted");

        var counted = ModelStats.Compute(model, dir.File("m.onnx"));
        Assert.Equal(expected, MatMulNBits.WeightCounts(model)["table_Q4"]);
        Assert.Equal(ModelStats.Compute(original).NonZero, counted.NonZero);
        Assert.All(external, t => Assert.False(t.IsLoaded, $"'{t.Name}' was loaded"));
    }
}
