using Google.Protobuf;
using Shrink.Builder;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Onnx.Proto;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Onnx;

/// <summary>Every bad file raises <see cref="ModelFormatException"/> with a one-line message, never another exception.</summary>
public class CorruptFileTests
{
    private static ModelFormatException ReadFails(byte[] bytes, string? baseDirectory = null)
    {
        var e = Assert.Throws<ModelFormatException>(() => OnnxReader.Read(bytes, baseDirectory));
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    private static ModelFormatException ReadFileFails(string path)
    {
        var e = Assert.Throws<ModelFormatException>(() => OnnxReader.Read(path));
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    /// <summary>About 400 bytes, with opset_import as its last top-level field, so that no strict prefix is a complete model.</summary>
    private static byte[] TinyModel()
    {
        var b = new NetworkBuilder("tiny", seed: 1);
        b.Output(b.Linear(b.Flatten(b.Input("input", 1, 2, 2)), 3), "output");
        return OnnxWriter.ToBytes(b.Build());
    }

    [Fact]
    public void EmptyFile_Fails()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("empty.onnx"), Array.Empty<byte>());

        Assert.Contains("empty", ReadFileFails(dir.File("empty.onnx")).Message);
    }

    [Fact]
    public void EveryTruncation_Fails()
    {
        var bytes = TinyModel();
        OnnxReader.Read(bytes);

        for (var length = 0; length < bytes.Length; length++)
            ReadFails(bytes[..length]);
    }

    [Fact]
    public void RandomBytes_Fail()
    {
        var random = new Random(11);
        for (var i = 0; i < 20; i++)
        {
            var bytes = new byte[random.Next(1, 2000)];
            random.NextBytes(bytes);
            ReadFails(bytes);
        }
    }

    [Theory]
    [InlineData("This is not an ONNX model.\nJust text.\n")]
    [InlineData("{\"irVersion\": 8, \"graph\": {}}")]
    [InlineData("\u0089PNG\r\n\u001a\n\0\0\0\rIHDR\0\0\0\u0010\0\0\0\u0010\b\u0006\0\0\0")]
    public void OtherFileFormats_Fail(string content)
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("model.onnx"), content.Select(c => (byte)c).ToArray());

        Assert.Contains("model.onnx", ReadFileFails(dir.File("model.onnx")).Message);
    }

    [Fact]
    public void DirectoryPath_Fails()
    {
        using var dir = new TempDirectory();

        Assert.Contains("directory", ReadFileFails(dir.Path).Message);
    }

    [Fact]
    public void MissingFile_Fails()
    {
        using var dir = new TempDirectory();

        Assert.Contains("does not exist", ReadFileFails(dir.File("nothing.onnx")).Message);
    }

    /// <summary>300 seeded mutations of lenet5: each read (and validation of what was read) ends cleanly and soon.</summary>
    [Fact]
    public void MutatedModels_ReadOrFailCleanly()
    {
        var original = OnnxWriter.ToBytes(ModelZoo.Create("lenet5"));
        var random = new Random(2024);
        for (var i = 0; i < 300; i++)
        {
            var mutated = Mutate(original, random);
            var read = Task.Run(() => TryReadAndValidate(mutated));
            Assert.True(read.Wait(TimeSpan.FromSeconds(10)), $"mutation {i}: reading did not finish within 10 s");
            Assert.True(read.Result is null or ModelFormatException or GraphValidationException,
                $"mutation {i}: {read.Result?.GetType().Name}: {read.Result?.Message}");
        }
    }

    private static Exception? TryReadAndValidate(byte[] bytes)
    {
        try
        {
            var model = OnnxReader.Read(bytes);
            GraphValidator.EnsureValid(model);
            OnnxWriter.ToBytes(model);
            return null;
        }
        catch (Exception e) { return e; }
    }

    /// <summary>One to three byte flips, overwrites, insertions or deletions, mostly in the structure at the file's ends.</summary>
    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = original.ToList();
        for (var k = random.Next(1, 4); k > 0; k--)
        {
            var pos = random.Next(3) switch
            {
                0 => random.Next(Math.Min(2048, bytes.Count)),
                1 => bytes.Count - 1 - random.Next(Math.Min(1024, bytes.Count)),
                _ => random.Next(bytes.Count),
            };
            switch (random.Next(4))
            {
                case 0: bytes[pos] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes[pos] = (byte)random.Next(256); break;
                case 2: bytes.Insert(pos, (byte)random.Next(256)); break;
                default: bytes.RemoveAt(pos); break;
            }
        }
        return bytes.ToArray();
    }

    [Fact]
    public void NegativeTensorDimension_FailsNamingTheTensor()
    {
        var m = ProtoModels.Minimal();
        m.Graph.Initializer.Add(ProtoModels.RawTensor("bad_dims", new long[] { -1, 2 }, 8));

        Assert.Contains("'bad_dims'", ReadFails(m.ToByteArray()).Message);
    }

    [Theory]
    [InlineData(1L << 40, 1L << 40)]
    [InlineData(1L << 60, 1L)]
    [InlineData(long.MaxValue, 1L)]
    public void OverflowingTensorShape_FailsNamingTheTensor(long d0, long d1)
    {
        var m = ProtoModels.Minimal();
        m.Graph.Initializer.Add(ProtoModels.RawTensor("huge", new long[] { d0, d1 }, 4));

        Assert.Contains("'huge'", ReadFails(m.ToByteArray()).Message);
    }

    [Theory]
    [InlineData(20)]
    [InlineData(28)]
    [InlineData(0)]
    public void RawDataLengthDisagreeingWithShape_FailsNamingTheTensor(int byteCount)
    {
        var m = ProtoModels.Minimal();
        m.Graph.Initializer.Add(ProtoModels.RawTensor("w_short", new long[] { 2, 3 }, byteCount));

        var message = ReadFails(m.ToByteArray()).Message;

        Assert.Contains("'w_short'", message);
        Assert.Contains("expected 24", message);
    }

    [Fact]
    public void UnknownTensorDataType_Fails()
    {
        var m = ProtoModels.Minimal();
        var t = ProtoModels.RawTensor("odd_type", new long[] { 1 }, 4);
        t.DataType = 999;
        m.Graph.Initializer.Add(t);

        Assert.Contains("'odd_type'", ReadFails(m.ToByteArray()).Message);
    }

    [Theory]
    [InlineData("../x.data")]
    [InlineData("sub/../../x.data")]
    [InlineData("/etc/passwd")]
    public void ExternalDataOutsideTheModelDirectory_Fails(string location)
    {
        using var dir = new TempDirectory();
        var m = ProtoModels.Minimal();
        var t = new TensorProto { Name = "outside", DataType = 1, DataLocation = TensorProto.Types.DataLocation.External };
        t.Dims.Add(1);
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        m.Graph.Initializer.Add(t);
        File.WriteAllBytes(dir.File("m.onnx"), m.ToByteArray());

        var message = ReadFileFails(dir.File("m.onnx")).Message;

        Assert.Contains("'outside'", message);
        Assert.Contains("outside the model's directory", message);
    }

    [Theory]
    [InlineData("9223372036854775807", "10")]
    [InlineData("0", "9223372036854775807")]
    [InlineData("-4", "4")]
    [InlineData("0", "4")]
    public void ExternalDataRangeOutsideTheDataFile_Fails(string offset, string length)
    {
        using var dir = new TempDirectory();
        var m = ProtoModels.Minimal();
        var t = new TensorProto { Name = "ranged", DataType = 1, DataLocation = TensorProto.Types.DataLocation.External };
        t.Dims.Add(2);
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "m.data" });
        t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset });
        t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length });
        m.Graph.Initializer.Add(t);
        File.WriteAllBytes(dir.File("m.onnx"), m.ToByteArray());
        File.WriteAllBytes(dir.File("m.data"), new byte[16]);

        Assert.Contains("'ranged'", ReadFileFails(dir.File("m.onnx")).Message);
    }

    [Fact]
    public void MissingExternalDataFile_Fails()
    {
        using var dir = new TempDirectory();
        OnnxWriter.Write(ModelZoo.Create("lenet300"), dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true });
        File.Delete(ExternalDataFiles.Referenced(dir.File("m.onnx")).Single());

        ReadFileFails(dir.File("m.onnx"));
    }

    [Fact]
    public void TruncatedExternalDataFile_Fails()
    {
        using var dir = new TempDirectory();
        OnnxWriter.Write(ModelZoo.Create("lenet300"), dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true });
        using (var s = File.OpenWrite(ExternalDataFiles.Referenced(dir.File("m.onnx")).Single())) s.SetLength(s.Length / 2);

        Assert.Contains("truncated", ReadFileFails(dir.File("m.onnx")).Message);
    }

    [Fact]
    public void ExternalDataInAModelReadFromBytes_Fails()
    {
        using var dir = new TempDirectory();
        OnnxWriter.Write(ModelZoo.Create("lenet300"), dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true });

        Assert.Contains("read it by path", ReadFails(File.ReadAllBytes(dir.File("m.onnx"))).Message);
    }
}
