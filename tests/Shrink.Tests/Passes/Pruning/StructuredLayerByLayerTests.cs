using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.TestSupport;
using Xunit;

namespace Shrink.Tests.Passes.Pruning;

/// <summary>
/// Structured pruning works layer by layer (the large-models issue): the filter norms stream each weight once, the cut
/// slices an external weight from its file without loading it, and the result of a model read with external data is byte
/// for byte the one of the same model held in memory.
/// </summary>
public class StructuredLayerByLayerTests
{
    /// <summary>x [1, 32] → MatMul × <paramref name="layers"/> with seeded [32, 32] weights, Relu between (a Gemm with transB last).</summary>
    private static Model Chain(int layers) => TestModels.MatMulChain(layers, 32, seed: 7, relu: true);

    private static float[] Values(Random random, int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();

    [Theory]
    [InlineData("l1-filter")]
    [InlineData("l2-filter")]
    [InlineData("fpgm")]
    public void StructuredPruning_OfAModelWithExternalData_LeavesItsWeightsUnloaded_AndEqualsTheInMemoryResultByteForByte(string method)
    {
        using var dir = new TempDirectory();
        var model = Chain(3);
        var lazy = TestModels.ReadWithExternalData(model, dir);
        var pass = new StructuredPrunePass(new StructuredPruneOptions { Method = PruneMethods.Parse(method)!.Value, Sparsity = 0.5 });

        var weights = lazy.Graph.Initializers.Select(v => v.Const!).ToList();
        var inMemory = pass.Run(model, new PassContext());
        var fromFile = pass.RunInPlace(lazy, new PassContext());  // in place: the weights replaced are the file's own

        Assert.All(weights, t => Assert.False(t.IsLoaded));  // scored and sliced from the file, never loaded
        Assert.Equal(OnnxWriter.ToBytes(inMemory.Model), OnnxWriter.ToBytes(fromFile.Model));
        Assert.Equal(new long[] { 32, 16 }, fromFile.Model.Graph.FindInitializer("w0")!.Const!.Dims);
        Assert.Equal(new long[] { 16, 16 }, fromFile.Model.Graph.FindInitializer("w1")!.Const!.Dims);
        Assert.Equal(new long[] { 32, 16 }, fromFile.Model.Graph.FindInitializer("w2")!.Const!.Dims);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(1, true)]
    [InlineData(0, false)]
    [InlineData(0, true)]
    [InlineData(2, true)]
    public void RowNorms_AreTheSumsOfTheFloat64Rows_BitForBit(int axis, bool l1)
    {
        using var dir = new TempDirectory();
        var t = Tensor.FromFloats("w", new long[] { 6, 40, 3 }, Values(new Random(axis), 6 * 40 * 3));
        var rows = ChannelImportance.Rows(t, axis);
        var expected = rows.Select(r => l1 ? r.Sum(Math.Abs) : Math.Sqrt(r.Sum(x => x * x))).ToArray();
        Assert.Equal(expected, ChannelImportance.RowNorms(t, axis, l1));

        var unloaded = Unloaded(dir, t);
        Assert.Equal(expected, ChannelImportance.RowNorms(unloaded, axis, l1));
        Assert.Equal(rows, ChannelImportance.Rows(unloaded, axis));
        Assert.False(unloaded.IsLoaded);
    }

    /// <summary>Whole rows a read (small runs), windows of a row's channels (runs of 280 000 bytes), and runs of a chunk or more read in place.</summary>
    [Theory]
    [InlineData(new long[] { 3, 16, 5 }, 1)]
    [InlineData(new long[] { 16, 4 }, 0)]
    [InlineData(new long[] { 2, 8, 70_000 }, 1)]
    [InlineData(new long[] { 2, 3, 300_000 }, 1)]
    public void SliceTensor_OfAnUnloadedTensor_ReadsItInRanges_AndEqualsTheSliceOfTheLoadedOne(long[] dims, int axis)
    {
        using var dir = new TempDirectory();
        var t = Tensor.FromFloats("w", dims, Values(new Random(3), (int)dims.Aggregate(1L, (a, d) => a * d)));
        var channels = dims[axis];
        var keep = new[] { channels - 1, 0, channels / 2, channels / 2 + 1 }; // out of order, neighbours and ends
        var loaded = new Value("w", DataType.Float) { Const = t };
        var unloaded = new Value("w", DataType.Float) { Const = Unloaded(dir, t) };
        var source = unloaded.Const;

        ChannelCut.SliceTensor(loaded, axis, keep);
        ChannelCut.SliceTensor(unloaded, axis, keep);

        Assert.False(source.IsLoaded);
        Assert.Equal(loaded.Const!.Dims, unloaded.Const!.Dims);
        Assert.Equal(loaded.Const.Bytes.ToArray(), unloaded.Const.Bytes.ToArray());
        var inner = dims.Skip(axis + 1).Aggregate(1L, (a, d) => a * d);
        Assert.Equal(t.Floats[(int)((channels - 1) * inner)], loaded.Const.Floats[0]);  // the first kept run, first row
    }

    /// <summary>The tensor written to external data and read back unloaded.</summary>
    private static Tensor Unloaded(TempDirectory dir, Tensor t)
    {
        var g = new Graph("one");
        g.AddInitializer(t.Clone());
        var model = new Model(g) { IrVersion = 8 };
        model.OpsetImports.Add(new("", 17));
        var path = dir.File($"t{Guid.NewGuid():N}.onnx");
        OnnxWriter.Write(model, path, new OnnxWriteOptions { ExternalData = true, ExternalThreshold = 16 });
        var read = OnnxReader.Read(path).Graph.FindInitializer("w")!.Const!;
        Assert.False(read.IsLoaded);
        return read;
    }
}
