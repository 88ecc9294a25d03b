using Shrink.Data;
using Xunit;

namespace Shrink.Tests.Data;

public class NpyFileTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "data", "npy", name);

    public static TheoryData<long[]> Shapes => new() { Array.Empty<long>(), new long[] { 4 }, new long[] { 2, 1, 3 }, new long[] { 0, 5 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Float32_RoundTrip_KeepsShape(long[] shape)
    {
        using var dir = new TempDirectory();
        var values = Enumerable.Range(0, (int)shape.Aggregate(1L, (a, d) => a * d)).Select(i => i * 0.5f - 1).ToArray();

        NpyFile.Write(dir.File("a.npy"), NpyArray.FromFloat32(values, shape));
        var back = NpyFile.Read(dir.File("a.npy"));

        Assert.Equal(NpyDType.Float32, back.DType);
        Assert.Equal(shape, back.Shape);
        Assert.Equal(values, back.ToFloat32());
        Assert.Equal(0, (new FileInfo(dir.File("a.npy")).Length - back.Data.Length) % 64);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Int64_RoundTrip_KeepsShape(long[] shape)
    {
        using var dir = new TempDirectory();
        var values = Enumerable.Range(0, (int)shape.Aggregate(1L, (a, d) => a * d)).Select(i => (long)i << 35).ToArray();

        NpyFile.Write(dir.File("a.npy"), NpyArray.FromInt64(values, shape));
        var back = NpyFile.Read(dir.File("a.npy"));

        Assert.Equal("<i8", back.Descr);
        Assert.Equal(shape, back.Shape);
        Assert.Equal(values, back.ToInt64());
    }

    [Fact]
    public void Write_MatchesNumpyByteForByte()
    {
        using var dir = new TempDirectory();
        var numpy = NpyFile.Read(Fixture("f32_2x3.npy"));

        NpyFile.Write(dir.File("a.npy"), numpy);

        Assert.Equal(File.ReadAllBytes(Fixture("f32_2x3.npy")), File.ReadAllBytes(dir.File("a.npy")));
    }

    [Theory]
    [InlineData("f32_2x3.npy", "<f4", new long[] { 2, 3 }, new float[] { 1.5f, -2, 3, 4, 5.25f, -6 })]
    [InlineData("f32_v2.npy", "<f4", new long[] { 1, 2, 3 }, new float[] { 0, 1, 2, 3, 4, 5 })]
    [InlineData("i32_v3.npy", "<i4", new long[] { 2 }, new float[] { -3, 4 })]
    [InlineData("f16_3.npy", "<f2", new long[] { 3 }, new float[] { 0.5f, -1, 65504 })]
    [InlineData("u8_0d.npy", "|u1", new long[0], new float[] { 200 })]
    [InlineData("bool_2.npy", "|b1", new long[] { 2 }, new float[] { 1, 0 })]
    public void NumpyFiles_ReadBack(string file, string descr, long[] shape, float[] values)
    {
        var a = NpyFile.Read(Fixture(file));

        Assert.Equal(descr, a.Descr);
        Assert.Equal(shape, a.Shape);
        Assert.Equal(values, a.ToFloat32());
    }

    [Fact]
    public void NumpyInt64AndFloat64_ReadBackExactly()
    {
        Assert.Equal([7L, -1, 1L << 40, 0], NpyFile.Read(Fixture("i64_1d.npy")).ToInt64());
        var f64 = NpyFile.Read(Fixture("f64_2x2.npy"));
        Assert.Equal(NpyDType.Float64, f64.DType);
        Assert.Equal(1e300, BitConverter.ToDouble(f64.Data, 24));
        Assert.Equal(0.3f, f64.ToFloat32()[2]);
    }

    [Theory]
    [InlineData("bad_bigendian.npy", "big-endian data ('>f4')")]
    [InlineData("bad_fortran.npy", "Fortran order")]
    [InlineData("bad_object.npy", "object array ('|O')")]
    public void UnsupportedNumpyFiles_Throw(string file, string problem)
    {
        var e = Assert.Throws<DataException>(() => NpyFile.Read(Fixture(file)));

        Assert.Contains(file, e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Theory]
    [InlineData(0, "not an npy file")]
    [InlineData(1, "truncated: shape (2, 3) of <f4 needs 24 data bytes but 23")]
    [InlineData(2, "truncated inside its npy header")]
    [InlineData(3, "npy format version 9.0")]
    [InlineData(4, "8 bytes after the data")]
    public void CorruptFiles_Throw(int corruption, string problem)
    {
        var bytes = File.ReadAllBytes(Fixture("f32_2x3.npy"));
        bytes = corruption switch
        {
            0 => [(byte)'P', .. bytes[1..]],
            1 => bytes[..^1],
            2 => bytes[..9],
            3 => [.. bytes[..6], 9, .. bytes[7..]],
            _ => [.. bytes, .. new byte[8]],
        };

        var e = Assert.Throws<DataException>(() => NpyFile.Read(new MemoryStream(bytes), "bad.npy"));

        Assert.Contains("'bad.npy'", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void MalformedHeader_Throws()
    {
        var bytes = File.ReadAllBytes(Fixture("f32_2x3.npy"));
        var text = System.Text.Encoding.Latin1.GetString(bytes).Replace("'shape'", "'shapf'");

        var e = Assert.Throws<DataException>(() => NpyFile.Read(new MemoryStream(System.Text.Encoding.Latin1.GetBytes(text)), "bad.npy"));

        Assert.Contains("no readable 'shape'", e.Message);
    }
}
