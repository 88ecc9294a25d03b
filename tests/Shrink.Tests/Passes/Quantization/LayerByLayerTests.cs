using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Shrink.TestSupport;
using Xunit;

namespace Shrink.Tests.Passes.Quantization;

/// <summary>
/// Passes that change weights work layer by layer (the large-models issue): a clone shares its tensors' bytes until one is
/// written, dynamic quantization of a model read with external data leaves the input's weights unloaded and reads each
/// weight into a reused buffer, and the result is byte for byte the one of the model held in memory; fidelity runs the two
/// models one after the other with the same figures.
/// </summary>
public class LayerByLayerTests
{
    /// <summary>x [1, 16] → MatMul × <paramref name="layers"/> with seeded [16, 16] weights (a Gemm with transB last, whose weight is transposed).</summary>
    private static Model Chain(int layers) => TestModels.MatMulChain(layers, 16, seed: 5, relu: false);

    private static ref byte First(Tensor t) => ref MemoryMarshal.GetReference(t.Bytes);

    [Fact]
    public void AClone_SharesTheBytesUntilOneIsWritten_AndNeitherSeesTheOthersWrite()
    {
        var original = Tensor.FromFloats("w", new long[] { 4 }, new float[] { 1, 2, 3, 4 });
        var clone = original.Clone();
        Assert.True(Unsafe.AreSame(ref First(original), ref First(clone)));      // no copy made by the clone
        Assert.Equal(original.Floats.ToArray(), clone.Floats.ToArray());

        clone.AsFloats()[0] = 9;                                                 // the writer copies first
        Assert.False(Unsafe.AreSame(ref First(original), ref First(clone)));
        Assert.Equal(new float[] { 1, 2, 3, 4 }, original.Floats.ToArray());
        Assert.Equal(new float[] { 9, 2, 3, 4 }, clone.Floats.ToArray());

        var second = original.Clone();
        original.RawData[4] = 0xFF;                                              // the original, written, copies too
        Assert.Equal(2f, second.Floats[1]);
        Assert.Equal(1f, second.Floats[0]);
    }

    [Fact]
    public void AllFinite_ReadsAnUnloadedTensorWithoutLoadingIt()
    {
        using var dir = new TempDirectory();
        var model = Chain(2);
        model.Graph.FindInitializer("w1")!.Const!.AsFloats()[200] = float.NaN;
        OnnxWriter.Write(model, dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true, ExternalThreshold = 16 });
        var read = OnnxReader.Read(dir.File("m.onnx"));
        var (w0, w1) = (read.Graph.FindInitializer("w0")!.Const!, read.Graph.FindInitializer("w1")!.Const!);
        Assert.True(w0.AllFinite());
        Assert.False(w1.AllFinite());
        Assert.False(w0.IsLoaded || w1.IsLoaded);
    }

    [Fact]
    public void DynamicQuantization_OfAModelWithExternalData_LeavesItsWeightsUnloaded_AndEqualsTheInMemoryResultByteForByte()
    {
        using var dir = new TempDirectory();
        var model = Chain(4);
        OnnxWriter.Write(model, dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true, ExternalThreshold = 16 });
        var lazy = OnnxReader.Read(dir.File("m.onnx"));
        Assert.All(lazy.Graph.Initializers, v => Assert.False(v.Const!.IsLoaded));

        var fromFile = Quantizer.Dynamic(lazy, new QuantizeOptions { PerChannel = true });
        var inMemory = Quantizer.Dynamic(model, new QuantizeOptions { PerChannel = true });

        Assert.All(lazy.Graph.Initializers, v => Assert.False(v.Const!.IsLoaded));  // read through a buffer, never loaded
        Assert.DoesNotContain(fromFile.Model.Graph.Initializers, v => v.Const!.DataType == DataType.Float && v.Const.Dims.Length == 2);
        Assert.Equal(OnnxWriter.ToBytes(inMemory.Model), OnnxWriter.ToBytes(fromFile.Model));
        Assert.Equal(4, fromFile.Stats["quantize-dynamic.layers"]);
    }

    [Fact]
    public void UnstructuredPruning_OfAModelWithExternalData_LeavesItsWeightsUnloaded_AndEqualsTheInMemoryResultByteForByte()
    {
        using var dir = new TempDirectory();
        var model = Chain(3);
        var w = model.Graph.FindInitializer("w1")!.Const!.AsFloats();
        (w[3], w[4], w[5], w[6]) = (0.25f, -0.25f, 0f, -0f); // ties by magnitude, and both zeros: the position decides
        OnnxWriter.Write(model, dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true, ExternalThreshold = 16 });
        var lazy = OnnxReader.Read(dir.File("m.onnx"));
        var pass = new UnstructuredPrunePass(new UnstructuredPruneOptions { Sparsity = 0.5 });

        var fromFile = pass.Run(lazy, new PassContext());
        var inMemory = pass.Run(model, new PassContext());

        Assert.All(lazy.Graph.Initializers, v => Assert.False(v.Const!.IsLoaded));
        Assert.Equal(OnnxWriter.ToBytes(inMemory.Model), OnnxWriter.ToBytes(fromFile.Model));
        // The smallest half by |w|, ties by position, as the definition says.
        var values = model.Graph.FindInitializer("w1")!.Const!.Floats.ToArray();
        var expected = Enumerable.Range(0, values.Length).OrderBy(i => Math.Abs(values[i])).ThenBy(i => i).Take(values.Length / 2).ToHashSet();
        var pruned = fromFile.Model.Graph.FindInitializer("w1")!.Const!.Floats.ToArray();
        Assert.All(Enumerable.Range(0, values.Length), i => Assert.Equal(expected.Contains(i) ? 0f : values[i], pruned[i]));
    }

    [Fact]
    public void DynamicQuantization_LeavesTheInputModelAsItWas()
    {
        var model = Chain(3);
        var before = OnnxWriter.ToBytes(model);
        Quantizer.Dynamic(model);
        Assert.Equal(before, OnnxWriter.ToBytes(model));
    }

    [Theory]
    [InlineData(Fidelity.KeptOutputBytes)]  // in turn: the reference's session closed before the candidate's opens
    [InlineData(0L)]                        // over the budget: both sessions at once
    public void FidelityInTurn_GivesTheFiguresOfBothSessionsAtOnce(long keptBytes)
    {
        using var dir = new TempDirectory();
        var model = Chain(3);
        var quantized = Quantizer.Dynamic(model).Model;
        OnnxWriter.Write(model, dir.File("before.onnx"));
        OnnxWriter.Write(quantized, dir.File("after.onnx"));
        using var reference = OnnxRunner.Load(dir.File("before.onnx"));
        var data = Fidelity.RandomInputs(reference, new FidelityOptions { RandomSamples = 20 });
        IReadOnlyList<OutputFidelity> together;
        using (var candidate = OnnxRunner.Load(dir.File("after.onnx")))
            together = Fidelity.Measure(reference, candidate, data, batchSize: 8);

        var inTurn = Fidelity.InTurn(reference, () => OnnxRunner.Load(dir.File("after.onnx")), data, batchSize: 8, keptBytes: keptBytes);

        Assert.Equal(together, inTurn);
        Assert.True(inTurn[0].Cosine is > 0.9 and < 1);
        Assert.Equal(20, inTurn[0].Samples);
    }

    [Fact]
    public void WithoutPrepacking_ASessionComputesTheSameOutputs()
    {
        using var dir = new TempDirectory();
        OnnxWriter.Write(Chain(3), dir.File("m.onnx"));
        using var packed = OnnxRunner.Load(dir.File("m.onnx"));
        using var plain = OnnxRunner.Load(dir.File("m.onnx"), new RunnerOptions { Prepacking = false });
        var input = packed.RandomInputs(1, seed: 3);
        Assert.Equal((float[])packed.Run(input)[0].Data, (float[])plain.Run(input)[0].Data, new ToleranceComparer(1e-5f));
    }

    [Fact]
    public void GzipBytes_Streamed_IsTheSizeOfTheFileCompressedWhole()
    {
        using var dir = new TempDirectory();
        OnnxWriter.Write(Chain(3), dir.File("m.onnx"));
        using var whole = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(whole, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
            gz.Write(File.ReadAllBytes(dir.File("m.onnx")));
        Assert.Equal(whole.Length, ModelEvaluation.GzipBytes(dir.File("m.onnx")));
    }

    [Fact]
    public void GzipBytes_OfAModelWithExternalData_CompressesItsDataFileToo()
    {
        using var dir = new TempDirectory();
        OnnxWriter.Write(Chain(3), dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true, ExternalThreshold = 16 });
        using var whole = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(whole, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gz.Write(File.ReadAllBytes(dir.File("m.onnx")));
            gz.Write(File.ReadAllBytes(ExternalDataFiles.Referenced(dir.File("m.onnx")).Single()));
        }
        Assert.True(whole.Length > 3 * 16 * 16 * 2, "the data file's random floats are counted");
        Assert.Equal(whole.Length, ModelEvaluation.GzipBytes(dir.File("m.onnx")));
    }

    private sealed class ToleranceComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance * Math.Max(1, Math.Abs(a));
        public int GetHashCode(float f) => 0;
    }
}
