using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Shrink.Stats;
using Xunit;

namespace Shrink.Tests.Passes.Quantization;

/// <summary>Embedding tables as ONNX Runtime's com.microsoft.GatherBlockQuantized: layout, fidelity, sizes and when tables stay float.</summary>
public class GatherNBitsTests
{
    /// <summary>ids [2, 5] → Gather of a seeded table [rows, width].</summary>
    private static Model Embedding(int rows, int width, int seed = 1)
    {
        var random = new Random(seed);
        var model = new Model(new Graph("embedding"));
        model.SetOpset("", 17);
        var g = model.Graph;
        var ids = new Value("ids", DataType.Int64, Shape.Of(2, 5));
        g.Inputs.Add(ids);
        var table = g.AddInitializer(Tensor.FromFloats("table", new long[] { rows, width }, Enumerable.Range(0, rows * width).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()));
        var gather = new Node("Gather", "", "gather");
        gather.AddInput(table);
        gather.AddInput(ids);
        g.Outputs.Add(gather.AddOutput(new Value("y", DataType.Float))!);
        g.AddNode(gather);
        return model;
    }

    /// <summary>
    /// ONNX Runtime's kernel dequantizes exactly what the pass packed: every gathered row equals MatMulNBits' dequantized
    /// weights of the table read as [V, E] (symmetric and with zero points), the table is counted as V·E parameters and
    /// stored in half a byte each; the scales count as parameters, as MatMulNBits' do.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OnnxRuntimeGathersTheRowsThePassPacked(bool asymmetric)
    {
        var model = Embedding(50, 64);
        var values = model.Graph.Initializers.Single().Const!.AsFloats().ToArray();
        var result = new GatherNBitsPass(new MatMulNBitsOptions { BlockSize = 32, Asymmetric = asymmetric }).Run(model, new PassContext());
        var node = Assert.Single(result.Model.Graph.Nodes);
        Assert.Equal(("GatherBlockQuantized", MatMulNBits.Domain), (node.OpType, node.Domain));
        Assert.Equal(new long[] { 50, 32 }, node.Inputs[0]!.Const!.Dims);
        Assert.Equal(1, result.Stats["tables"]);
        var expected = MatMulNBits.Quantize(values, 50, 64, 32, asymmetric);
        long[] ids = [0, 7, 49, 7, 3, 12, 0, 48, 25, 1];
        using var runner = OnnxRunner.FromModel(result.Model);
        var y = (float[])runner.Run([new HostTensor("ids", ids, [2, 5])])[0].Data;
        Assert.Equal(2 * 5 * 64, y.Length);
        for (var i = 0; i < ids.Length; i++)
            for (var c = 0; c < 64; c++)
                Assert.Equal(expected.Dequantized((int)ids[i], c), y[i * 64 + c]);
        var stats = ModelStats.Compute(result.Model);
        Assert.Equal(50 * 64 + 50 * 2 + (asymmetric ? 50 : 0), stats.Parameters);   // V·E entries, the scales (and zero-point bytes), as MatMulNBits counts them
        Assert.InRange(stats.PackedBytes, 50 * 32 + 50 * 2 * 4, 50 * 32 + 50 * 2 * 4 + 50);   // the levels, the scales (and zero points)
    }

    /// <summary>A width that is not a multiple of the block size keeps the table float, with a note; so does a table another op reads.</summary>
    [Fact]
    public void TablesGatherBlockQuantizedCannotTakeStayFloat()
    {
        var context = new PassContext();
        var odd = new GatherNBitsPass(new MatMulNBitsOptions { BlockSize = 32 }).Run(Embedding(10, 48), context);
        Assert.Equal("Gather", Assert.Single(odd.Model.Graph.Nodes).OpType);
        Assert.Contains(context.Notes, n => n.Contains("its width 48 is not a multiple of the block size 32"));
        var shared = Embedding(10, 64);
        var g = shared.Graph;
        var identity = new Node("Identity", "", "also");
        identity.AddInput(g.Initializers.Single());
        g.Outputs.Add(identity.AddOutput(new Value("t", DataType.Float))!);
        g.AddNode(identity);
        Assert.Empty(GatherNBitsPass.Tables(shared));
    }

    /// <summary>
    /// Weight-only int4 of a PyTorch-exported encoder writes its word and position tables as GatherBlockQuantized beside the
    /// MatMulNBits layers (smaller than with the layers alone, output cosine ≥ 0.99 in ONNX Runtime); chosen op types keep them float.
    /// </summary>
    [Fact]
    public void WeightOnlyInt4OfAnEncoderQuantizesItsEmbeddingTables()
    {
        var model = OnnxReader.Read(TestModels.TorchPath("encoder_small"));
        var all = Quantizer.WeightOnly(model, new QuantizeOptions { Weights = WeightPrecision.Int4 });
        Assert.Equal(2, all.Stats["gather-nbits.tables"]);
        Assert.Equal(2, all.Model.Graph.Nodes.Count(n => n.OpType == "GatherBlockQuantized"));
        Assert.Contains(all.Notes, n => n.Contains("2 embedding tables written as ONNX Runtime's GatherBlockQuantized"));
        var layersOnly = Quantizer.WeightOnly(model, new QuantizeOptions { Weights = WeightPrecision.Int4, OpTypes = ["MatMul", "Gemm"] });
        Assert.DoesNotContain(layersOnly.Model.Graph.Nodes, n => n.OpType == "GatherBlockQuantized");
        Assert.True(OnnxWriter.ToBytes(all.Model).Length < OnnxWriter.ToBytes(layersOnly.Model).Length - 20_000);
        var sized = new RunnerOptions { DimValues = new Dictionary<string, long> { ["sequence"] = 16 } };
        using var a = OnnxRunner.FromModel(model, sized);
        using var b = OnnxRunner.FromModel(all.Model, sized);
        var inputs = a.RandomInputs(4, seed: 2);
        var (x, y) = ((float[])a.Run(inputs)[0].Data, (float[])b.Run(inputs)[0].Data);
        var cosine = x.Zip(y).Sum(p => (double)p.First * p.Second) / Math.Sqrt(x.Sum(v => (double)v * v) * y.Sum(v => (double)v * v));
        Assert.InRange(cosine, 0.99, 1.0);
    }
}
