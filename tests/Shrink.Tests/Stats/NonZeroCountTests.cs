using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Stats;
using Xunit;

namespace Shrink.Tests.Stats;

/// <summary>Non-zero counts of tensors still in external data, read in chunks, equal those of the loaded bytes.</summary>
public class NonZeroCountTests
{
    /// <summary>Writes the tensors as one model's external data and reads them back unloaded.</summary>
    private static List<Tensor> ThroughExternalData(TempDirectory dir, params Tensor[] tensors)
    {
        var g = new Graph("g");
        foreach (var t in tensors)
        {
            var v = new Value(t.Name, t.DataType, t.Shape) { Const = t };
            g.Initializers.Add(v);
            g.Outputs.Add(v);
        }
        var m = new Model(g);
        m.SetOpset("", 21);
        OnnxWriter.Write(m, dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true, ExternalThreshold = 1 });
        return OnnxReader.Read(dir.File("m.onnx")).Graph.Initializers.Select(v => v.Const!).ToList();
    }

    [Fact]
    public void Float32_OverSeveralChunks_CountsLikeTheLoadedBytes()
    {
        using var dir = new TempDirectory();
        var values = new float[(Tensor.ChunkBytes / 4) * 2 + 1001];  // two chunks and a part, a tail past the vectors
        for (var i = 0; i < values.Length; i++) values[i] = i % 7 == 0 ? 0f : i % 11 == 0 ? -0f : i * 0.5f;
        var expected = values.LongCount(v => v != 0f);

        var t = ThroughExternalData(dir, Tensor.FromFloats("w", new long[] { values.Length }, values)).Single();

        Assert.Equal(expected, NonZeroCount.Of(t));
        Assert.False(t.IsLoaded);
        Assert.Equal(expected, NonZeroCount.Of(Tensor.FromFloats("w", new long[] { values.Length }, values)));
    }

    [Fact]
    public void Int4_WithAnOddCountOverAChunk_CountsNibbles()
    {
        using var dir = new TempDirectory();
        var count = Tensor.ChunkBytes * 2 + 3;  // 4-bit: a chunk holds 2·ChunkBytes elements; odd: the last byte's high nibble is padding
        var bytes = new byte[(count + 1) / 2];
        for (var i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i % 3 == 0 ? 0x00 : i % 3 == 1 ? 0x70 : 0x15);
        bytes[^1] = 0xF0;  // the last element (low nibble) is zero, the padding nibble is not
        var expected = Enumerable.Range(0, count).LongCount(i => ((bytes[i / 2] >> (4 * (i % 2))) & 0xF) != 0);
        var tensor = new Tensor("q", DataType.Int4, new long[] { count }, bytes);

        var t = ThroughExternalData(dir, tensor).Single();

        Assert.Equal(expected, NonZeroCount.Of(t));
        Assert.Equal(expected, NonZeroCount.Of(tensor));
        Assert.False(t.IsLoaded);
    }

    [Fact]
    public void Float16_NegativeZeroCountsAsZero()
    {
        using var dir = new TempDirectory();
        var halves = new[] { (Half)0f, (Half)(-0f), (Half)1.5f, (Half)(-2f) };
        var bytes = halves.SelectMany(h => BitConverter.GetBytes(h)).ToArray();

        var t = ThroughExternalData(dir, new Tensor("h", DataType.Float16, new long[] { 4 }, bytes)).Single();

        Assert.Equal(2, NonZeroCount.Of(t));
    }
}
