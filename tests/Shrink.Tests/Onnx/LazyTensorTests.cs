using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Stats;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Onnx;

/// <summary>Tensors read from external data stay in their file until asked for: reading, inspecting and converting load none.</summary>
public class LazyTensorTests
{
    private static Model WriteExternal(TempDirectory dir, out Model original, string name = "m.onnx")
    {
        original = ModelZoo.Create("lenet5");
        OnnxWriter.Write(original, dir.File(name), new OnnxWriteOptions { ExternalData = true, ExternalThreshold = 16 });
        return OnnxReader.Read(dir.File(name));
    }

    private static List<Tensor> External(Model m) =>
        m.Graph.Initializers.Select(v => v.Const!).Where(t => t.Storage == TensorStorage.External).ToList();

    private static string DataFile(string model) => ExternalDataFiles.Referenced(model).Single();

    [Fact]
    public void ReadInspectAndConvert_LoadNoExternalTensor()
    {
        using var dir = new TempDirectory();
        var m = WriteExternal(dir, out var original);
        Assert.NotEmpty(External(m));

        Assert.Empty(GraphValidator.Validate(m));
        var inspected = ModelStats.Compute(m, dir.File("m.onnx"), countUnloaded: false);
        var counted = ModelStats.Compute(m, dir.File("m.onnx"));
        ModelSaver.Save(m, dir.File("ext.onnx"), new OnnxWriteOptions { ExternalData = true });
        ModelSaver.Save(m, dir.File("inline.onnx"));

        Assert.All(External(m), t => Assert.False(t.IsLoaded, $"'{t.Name}' was loaded"));
        Assert.Equal(External(m).Sum(t => t.ElementCount), inspected.UncountedParameters);
        Assert.Equal(0, counted.UncountedParameters);
        Assert.Equal(ModelStats.Compute(original).NonZero, counted.NonZero);
        foreach (var written in new[] { "ext.onnx", "inline.onnx" })
            Assert.Equal(OnnxWriter.ToBytes(original), OnnxWriter.ToBytes(OnnxReader.Read(dir.File(written))));
    }

    [Fact]
    public void WrittenAgain_DataFileIsByteIdentical()
    {
        using var dir = new TempDirectory();
        var m = WriteExternal(dir, out _);

        OnnxWriter.Write(m, dir.File("again.onnx"), new OnnxWriteOptions { ExternalData = true, ExternalThreshold = 16 });

        Assert.Equal(File.ReadAllBytes(DataFile(dir.File("m.onnx"))), File.ReadAllBytes(DataFile(dir.File("again.onnx"))));
        Assert.All(External(m), t => Assert.False(t.IsLoaded));
    }

    [Fact]
    public void InlineWrite_StreamsUnloadedTensorsIntoTheSameMessage()
    {
        using var dir = new TempDirectory();
        var m = WriteExternal(dir, out _);
        External(m)[1].SetData(External(m)[1].CopyBytes());  // one loaded among the unloaded: the initializers' order must hold

        OnnxWriter.Write(m, dir.File("inline.onnx"));

        var expected = Shrink.Onnx.Proto.ModelProto.Parser.ParseFrom(OnnxWriter.ToBytes(m));
        var written = Shrink.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(dir.File("inline.onnx")));
        Assert.Equal(expected, written);
        Assert.Equal(1, External(m).Count(t => t.IsLoaded));
        Assert.Empty(ExternalDataFiles.Referenced(dir.File("inline.onnx")));
    }

    [Fact]
    public void Loading_GivesTheWrittenBytesAndOwnsThem()
    {
        using var dir = new TempDirectory();
        var m = WriteExternal(dir, out var original);
        var t = External(m).OrderByDescending(x => x.ByteLength).First();
        var expected = original.Graph.Initializers.Single(v => v.Name == t.Name).Const!.Bytes.ToArray();

        var read = new byte[t.ByteLength];
        t.Read(0, read);
        using var copied = new MemoryStream();
        t.CopyTo(copied);
        Assert.False(t.IsLoaded);
        Assert.Equal(expected, read);
        Assert.Equal(expected, copied.ToArray());
        Assert.Equal(expected, t.CopyBytes());

        Assert.Equal(expected, t.Bytes.ToArray());
        Assert.True(t.IsLoaded);
        Assert.Null(t.Source);
        File.Delete(DataFile(dir.File("m.onnx")));
        t.AsFloats()[0] = 42f;  // the loaded bytes are the tensor's own: no file needed, and writable
        Assert.Equal(42f, t.AsFloats()[0]);
    }

    [Fact]
    public void Clone_OfAnUnloadedTensorSharesItsSourceAndLoadsAlone()
    {
        using var dir = new TempDirectory();
        var m = WriteExternal(dir, out _);
        var t = External(m).First(x => x.DataType == DataType.Float);

        var first = BitConverter.ToSingle(t.CopyBytes(), 0);

        var clone = t.Clone("copy");
        Assert.False(clone.IsLoaded);
        Assert.Same(t.Source, clone.Source);

        clone.AsFloats()[0] = first + 1f;
        Assert.True(clone.IsLoaded);
        Assert.False(t.IsLoaded);
        Assert.Equal(first, t.AsFloats()[0]);

        var second = t.Clone();  // of a loaded tensor: its own copy of the bytes
        Assert.True(second.IsLoaded);
        second.AsFloats()[0] = -7f;
        Assert.NotEqual(-7f, t.AsFloats()[0]);
    }

    /// <summary>
    /// SetData on an unloaded tensor: from then on its length, source and bytes are the new data's, whichever is asked first,
    /// while a clone taken before keeps the source (ByteLength reads the source before the data, so a concurrent SetData or
    /// load never leaves it with neither).
    /// </summary>
    [Fact]
    public void SetDataOnAnUnloadedTensor_MovesLengthSourceAndBytesTogether()
    {
        using var dir = new TempDirectory();
        var m = WriteExternal(dir, out _);
        var t = External(m).OrderByDescending(x => x.ByteLength).First();
        var (source, length, old) = (t.Source, t.ByteLength, t.CopyBytes());
        var before = t.Clone("before");
        Assert.Equal(source!.Length, length);

        var data = old.Select(b => (byte)~b).ToArray();
        t.SetData(data);

        Assert.True(t.IsLoaded);
        Assert.Null(t.Source);
        Assert.Equal(data.LongLength, t.ByteLength);
        var read = new byte[16];
        t.Read(0, read);
        Assert.Equal(data[..16], read);
        Assert.Same(data, t.SharedBytes);
        Assert.False(before.IsLoaded);
        Assert.Same(source, before.Source);
        Assert.Equal(length, before.ByteLength);
        Assert.Equal(old, before.CopyBytes());
        Assert.Throws<ArgumentException>(() => t.SetData(new byte[length + 1]));
    }

    [Fact]
    public void ModelClone_KeepsEveryExternalTensorUnloaded()
    {
        using var dir = new TempDirectory();
        var m = WriteExternal(dir, out _);

        var copy = m.Clone();

        Assert.All(External(copy), t => Assert.False(t.IsLoaded));
        Assert.Equal(OnnxWriter.ToBytes(m), OnnxWriter.ToBytes(copy));
    }

    [Fact]
    public void DataFileTruncatedAfterReading_IsOneLineError()
    {
        using var dir = new TempDirectory();
        var m = WriteExternal(dir, out _);
        var data = DataFile(dir.File("m.onnx"));
        using (var fs = new FileStream(data, FileMode.Open)) fs.SetLength(fs.Length - 100);

        var e = Assert.Throws<ModelFormatException>(() => External(m).ForEach(t => _ = t.Bytes.Length));
        AssertChanged(e, data);
        var save = Assert.Throws<ModelFormatException>(() => ModelSaver.Save(m, dir.File("out.onnx"), new OnnxWriteOptions { ExternalData = true }));
        AssertChanged(save, data);
        Assert.False(File.Exists(dir.File("out.onnx")));
    }

    [Fact]
    public void DataFileChangedInPlaceAfterReading_IsOneLineError()
    {
        using var dir = new TempDirectory();
        var m = WriteExternal(dir, out _);
        var data = DataFile(dir.File("m.onnx"));
        var bytes = File.ReadAllBytes(data);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(data, bytes);  // same length, new content
        File.SetLastWriteTimeUtc(data, DateTime.UtcNow.AddMinutes(5));

        var e = Assert.Throws<ModelFormatException>(() => NonZeroCount.Of(External(m).Last()));

        AssertChanged(e, data);
    }

    [Fact]
    public void DataFileRewrittenWithTheSameLengthAndTime_IsOneLineError()
    {
        using var dir = new TempDirectory();
        var m = WriteExternal(dir, out _);
        var data = DataFile(dir.File("m.onnx"));
        var written = File.GetLastWriteTimeUtc(data);
        var bytes = File.ReadAllBytes(data);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(data, bytes);
        File.SetLastWriteTimeUtc(data, written);  // length and time as when read: only the content tells

        var e = Assert.Throws<ModelFormatException>(() => NonZeroCount.Of(External(m).First()));

        AssertChanged(e, data);
        Assert.Contains("other bytes in its first or last 4 KiB", e.Message);
    }

    [Fact]
    public void DataFileReplacedByRenameAfterReading_StillReadsTheBytesThatWereRead()
    {
        using var dir = new TempDirectory();
        var m = WriteExternal(dir, out var original);
        var data = DataFile(dir.File("m.onnx"));
        File.WriteAllBytes(dir.File("other"), new byte[new FileInfo(data).Length]);
        File.Move(dir.File("other"), data, overwrite: true);

        foreach (var t in External(m))
            Assert.Equal(original.Graph.Initializers.Single(v => v.Name == t.Name).Const!.Bytes.ToArray(), t.Bytes.ToArray());
    }

    [Fact]
    public void AfterAWriteWithExternalData_TheLoadedWeightsAreReadFromTheWrittenFile_NotHeld()
    {
        using var dir = new TempDirectory();
        var model = ModelZoo.Create("lenet5");
        var values = model.Graph.Initializers.ToDictionary(v => v.Name, v => v.Const!.Bytes.ToArray());
        var inline = OnnxWriter.ToBytes(model);

        OnnxWriter.Write(model, dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true, ExternalThreshold = 16, MoveWritten = true });

        var data = Path.GetFileName(DataFile(dir.File("m.onnx")));
        var moved = model.Graph.Initializers.Select(v => v.Const!).Where(t => t.ByteLength >= 16).ToList();
        Assert.NotEmpty(moved);
        Assert.All(moved, t =>
        {
            Assert.False(t.IsLoaded);
            Assert.Equal(TensorStorage.External, t.Storage);
            Assert.Equal(data, t.ExternalInfo!.Single(kv => kv.Key == "location").Value);
        });
        Assert.All(model.Graph.Initializers.Select(v => v.Const!).Where(t => t.ByteLength < 16), t => Assert.True(t.IsLoaded));  // inline ones stay
        Assert.All(model.Graph.Initializers, v => Assert.Equal(values[v.Name], v.Const!.Bytes.ToArray()));  // the same values, from the file
        Assert.Equal(inline, OnnxWriter.ToBytes(model));
    }

    [Fact]
    public void ByDefault_AndInline_AWriteKeepsTheWeightsInMemory()
    {
        using var dir = new TempDirectory();
        var model = ModelZoo.Create("lenet5");

        OnnxWriter.Write(model, dir.File("a.onnx"), new OnnxWriteOptions { ExternalData = true });
        OnnxWriter.Write(model, dir.File("b.onnx"), new OnnxWriteOptions { MoveWritten = true });

        Assert.All(model.Graph.Initializers, v => Assert.True(v.Const!.IsLoaded));
        Assert.All(model.Graph.Initializers, v => Assert.NotEqual(TensorStorage.External, v.Const!.Storage));
    }

    [Fact]
    public void ForResultOf_StoresTheWeightsAsTheInputStoredThem_AndMovesThemThere()
    {
        using var dir = new TempDirectory();
        var external = WriteExternal(dir, out _);
        OnnxWriter.Write(ModelZoo.Create("lenet5"), dir.File("inline.onnx"));

        Assert.True(OnnxWriteOptions.ForResultOf(external).ExternalData);
        Assert.False(OnnxWriteOptions.ForResultOf(OnnxReader.Read(dir.File("inline.onnx"))).ExternalData);
        Assert.True(OnnxWriteOptions.ForResultOf(external).MoveWritten);
    }

    [Fact]
    public void OverTheInlineLimit_ExternalDataIsUsedAndNoted()
    {
        using var dir = new TempDirectory();
        var model = ModelZoo.Create("lenet5");
        var small = new OnnxWriteOptions { InlineLimit = 100_000 };

        var note = OnnxWriter.AutoExternalNote(model, small);
        ModelSaver.Save(model, dir.File("m.onnx"), small);

        Assert.Contains("external data", note);
        Assert.Contains("protobuf", note);
        Assert.Single(ExternalDataFiles.Referenced(dir.File("m.onnx")));
        Assert.True(new FileInfo(dir.File("m.onnx")).Length < 100_000);
        Assert.Equal(OnnxWriter.ToBytes(model), OnnxWriter.ToBytes(OnnxReader.Read(dir.File("m.onnx"))));
        Assert.Null(OnnxWriter.AutoExternalNote(model));  // under protobuf's own limit
        Assert.Null(OnnxWriter.AutoExternalNote(model, small with { ExternalData = true }));  // asked for: nothing to note
    }

    [Fact]
    public void UnderTheInlineLimit_TheModelStaysInline()
    {
        using var dir = new TempDirectory();
        var model = ModelZoo.Create("lenet5");

        OnnxWriter.Write(model, dir.File("m.onnx"), new OnnxWriteOptions { InlineLimit = 10_000_000 });

        Assert.Empty(ExternalDataFiles.Referenced(dir.File("m.onnx")));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.data"));
    }

    private static void AssertChanged(ModelFormatException e, string data)
    {
        Assert.Contains($"external data file '{data}' changed after the model was read", e.Message);
        Assert.Contains("read the model again", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ReadDoubles_GivesTheValuesInFloat64_WithoutLoadingAFloatTensor()
    {
        using var dir = new TempDirectory();
        var m = WriteExternal(dir, out var original);
        foreach (var t in External(m))
        {
            var doubles = new double[t.ElementCount];
            t.ReadDoubles(doubles);
            Assert.Equal(original.Graph.FindInitializer(t.Name)!.Const!.Floats.ToArray().Select(v => (double)v), doubles);
            Assert.False(t.IsLoaded);
        }
        var half = new Tensor("h", DataType.Float16, new long[] { 2 }, System.Runtime.InteropServices.MemoryMarshal.AsBytes(new[] { (Half)1.5, (Half)(-2) }.AsSpan()).ToArray());
        var converted = new double[2];
        half.ReadDoubles(converted);
        Assert.Equal(new[] { 1.5, -2.0 }, converted);
    }
}
