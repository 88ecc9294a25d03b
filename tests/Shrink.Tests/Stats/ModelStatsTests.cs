using Shrink.Builder;
using Shrink.Ir;
using Shrink.Stats;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Stats;

public class ModelStatsTests
{
    [Fact]
    public void Lenet300_Parameters()
    {
        // 784·300+300 + 300·100+100 + 100·10+10
        Assert.Equal(266_610, ModelStats.Compute(ModelZoo.Create("lenet300")).Parameters);
    }

    [Fact]
    public void A_transformer_has_MACs_at_the_sequence_length_given_and_unknown_ones_without_it()
    {
        var encoder = Shrink.Onnx.OnnxReader.Read(TestModels.TorchPath("encoder_small"));   // 2 layers, hidden 64, 4 heads, feed-forward 128
        var unsized = ModelStats.Compute(encoder);
        Assert.False(unsized.MacsComplete);
        Assert.Equal(0, unsized.Macs);
        // per layer at sequence S: Q, K, V and the output projection 4·S·64·64, the feed-forward 2·S·64·128, Q·Kᵀ and the
        // product with V 2·S²·64 — 32,768·S + 128·S², two layers
        foreach (var s in new[] { 12L, 128L })
        {
            var sized = ModelStats.Compute(encoder, dims: new Dictionary<string, long> { ["sequence"] = s });
            Assert.True(sized.MacsComplete);
            Assert.Equal(2 * (32_768 * s + 128 * s * s), sized.Macs);
        }
    }

    [Fact]
    public void Lenet5_ParametersAndMacs()
    {
        var stats = ModelStats.Compute(ModelZoo.Create("lenet5"));

        // conv1 20·1·25+20, conv2 50·20·25+50, fc 800·500+500, fc 500·10+10
        Assert.Equal(520 + 25_050 + 400_500 + 5_010, stats.Parameters);
        Assert.Equal(431_080, stats.Parameters);
        // conv1 20·24·24·25, conv2 50·8·8·(20·25), fc 800·500, fc 500·10 (per sample)
        Assert.Equal(288_000 + 1_600_000 + 400_000 + 5_000, stats.Macs);
        Assert.True(stats.MacsComplete);
        Assert.Equal(new long?[] { 288_000, 1_600_000, 400_000, 5_000 }, stats.Layers.Select(l => l.Macs));
        Assert.Equal(stats.Parameters, stats.NonZero);
        Assert.Equal(0, stats.Sparsity);
    }

    [Fact]
    public void ZeroingHalfAWeight_LowersNonZero()
    {
        var model = ModelZoo.Create("lenet300");
        var before = ModelStats.Compute(model);
        var weight = model.Graph.FindInitializer("gemm1.weight")!.Const!;
        var half = (int)weight.ElementCount / 2;

        weight.AsFloats()[..half].Clear();
        weight.AsFloats()[half] = -0f;  // negative zero is zero too
        var after = ModelStats.Compute(model);

        Assert.Equal(before.Parameters, after.Parameters);
        Assert.Equal(before.NonZero - half - 1, after.NonZero);
        var layer = after.Layers.Single(l => l.Name == "gemm1");
        Assert.Equal(235_500, layer.Parameters);
        Assert.Equal(235_500 - half - 1, layer.NonZero);
        Assert.InRange(layer.Sparsity, 0.49, 0.51);
    }

    [Fact]
    public void IsParameter_ExcludesIntegerShapeConstants()
    {
        Assert.False(ModelStats.IsParameter(Tensor.FromInt64s("shape", new long[] { 2 }, new long[] { 0, -1 })));
        Assert.False(ModelStats.IsParameter(new Tensor("i32", DataType.Int32, new long[] { 1 }, new byte[4])));
        Assert.True(ModelStats.IsParameter(Tensor.FromFloats("w", new long[] { 1 }, new[] { 1f })));
        Assert.True(ModelStats.IsParameter(new Tensor("q", DataType.Int8, new long[] { 4 }, new byte[4])));
        Assert.True(ModelStats.IsParameter(new Tensor("q4", DataType.Int4, new long[] { 4 }, new byte[2])));
    }

    [Fact]
    public void ReshapeTarget_IsNotCountedAsParameters()
    {
        var b = new NetworkBuilder("reshaped");
        var x = b.Reshape(b.Input("input", 1, 4, 4), 0, -1);
        b.Output(b.Linear(x, 10), "output");

        var stats = ModelStats.Compute(b.Build());

        Assert.Equal(16 * 10 + 10, stats.Parameters);
        Assert.Equal(160, stats.Macs);
    }

    [Fact]
    public void CountNonZero_ReadsNibbles()
    {
        var t = new Tensor("q4", DataType.Int4, new long[] { 3 }, new byte[] { 0x30, 0x01 });

        Assert.Equal(2, ModelStats.CountNonZero(t));
    }

    [Fact]
    public void OpCountsAndBytes_AreReported()
    {
        var model = ModelZoo.Create("lenet5");

        var stats = ModelStats.Compute(model);

        Assert.Equal(2, stats.OpCounts["Conv"]);
        Assert.Equal(2, stats.OpCounts["Gemm"]);
        Assert.Equal(model.Graph.Nodes.Count, stats.Nodes);
        Assert.Equal(Shrink.Onnx.OnnxWriter.ToBytes(model).LongLength, stats.BytesOnDisk);
    }
}

/// <summary><see cref="ModelStats.SparseBytes"/>: a pruned model's weights counted as Deep Compression stores them.</summary>
public class SparseBytesTests
{
    [Fact]
    public void A_dense_model_counts_its_packed_bytes_and_a_pruned_one_its_relative_index_form()
    {
        var dense = ModelZoo.Create("lenet5", 0);
        Assert.Equal(ModelStats.Compute(dense).PackedBytes, ModelStats.SparseBytes(dense));

        var pruned = new Shrink.Passes.Pruning.UnstructuredPrunePass(new Shrink.Passes.Pruning.UnstructuredPruneOptions { Sparsity = 0.9 })
            .Run(dense, new Shrink.Passes.PassContext()).Model;
        var stats = ModelStats.Compute(pruned);
        Assert.Equal(ModelStats.Compute(dense).PackedBytes, stats.PackedBytes);   // dense storage: pruning saves nothing
        // Each pruned weight: its non-zeros × (b + 32) bits plus fillers, the best b; the biases stay dense.
        long expected = 0;
        foreach (var t in pruned.Graph.Initializers.Select(v => v.Const!).Where(ModelStats.IsParameter))
        {
            var values = t.AsFloats().ToArray();
            var positions = Enumerable.Range(0, values.Length).Where(i => values[i] != 0).ToArray();
            var denseBytes = 4L * values.Length;
            expected += positions.Length == values.Length ? denseBytes : Math.Min(denseBytes, Shrink.Container.RelativeIndex.Smallest(positions, values.Length, 32).Bytes);
        }
        Assert.Equal(expected, ModelStats.SparseBytes(pruned));
        // At 90 % sparsity about a tenth of the weights at 32 + 4 or 5 bits: over 7× smaller than the dense 1.64 MiB.
        Assert.InRange((double)stats.PackedBytes / ModelStats.SparseBytes(pruned), 7, 10);
    }

    [Fact]
    public void Half_precision_values_count_at_16_bits()
    {
        var model = ModelZoo.Create("lenet300", 0);
        var half = new Shrink.Passes.Precision.HalfPrecisionPass(new Shrink.Passes.Precision.PrecisionOptions()).Run(model, new Shrink.Passes.PassContext()).Model;
        Assert.Equal(ModelStats.Compute(half).PackedBytes, ModelStats.SparseBytes(half));
        Assert.InRange((double)ModelStats.SparseBytes(model) / ModelStats.SparseBytes(half), 1.99, 2.01);
    }
}
