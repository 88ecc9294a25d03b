using Google.Protobuf;
using Shrink.Builder;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Onnx.Proto;
using Shrink.Tests.Data;
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

    [Fact]
    public void NegativeTensorDimension_FailsNamingTheTensor()
    {
        var m = ProtoModels.Minimal();
        m.Graph.Initializer.Add(ProtoModels.RawTensor("bad_dims", new long[] { -1, 2 }, 8));

        Assert.Contains("'bad_dims'", ReadFails(m.ToByteArray()).Message);
    }

    [Fact]
    public void OverflowingTensorShape_FailsNamingTheTensor()
    {
        var m = ProtoModels.Minimal();
        m.Graph.Initializer.Add(ProtoModels.RawTensor("huge", new long[] { 1L << 40, 1L << 40 }, 4));

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

    [Fact]
    public void MissingExternalDataFile_Fails()
    {
        using var dir = new TempDirectory();
        OnnxWriter.Write(ModelZoo.Create("lenet300"), dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true });
        File.Delete(dir.File("m.onnx.data"));

        ReadFileFails(dir.File("m.onnx"));
    }

    [Fact]
    public void TruncatedExternalDataFile_Fails()
    {
        using var dir = new TempDirectory();
        OnnxWriter.Write(ModelZoo.Create("lenet300"), dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true });
        using (var s = File.OpenWrite(dir.File("m.onnx.data"))) s.SetLength(s.Length / 2);

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
