using Google.Protobuf;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Onnx;

public class ExternalDataTests
{
    private static Model WriteExternal(TempDirectory dir, out Model original)
    {
        original = ModelZoo.Create("lenet5");
        OnnxWriter.Write(original, dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true, ExternalThreshold = 16 });
        return OnnxReader.Read(dir.File("m.onnx"));
    }

    [Fact]
    public void Write_PutsLargeTensorsInTheDataFile()
    {
        using var dir = new TempDirectory();

        var back = WriteExternal(dir, out var original);

        var data = new FileInfo(ExternalDataFiles.Referenced(dir.File("m.onnx")).Single());
        Assert.Matches(@"^m\.onnx\.[0-9a-f]{16}\.data$", data.Name);
        Assert.True(data.Exists);
        Assert.True(data.Length >= original.Graph.Initializers.Sum(v => v.Const!.Bytes.Length));
        Assert.True(new FileInfo(dir.File("m.onnx")).Length < 64 * 1024);
        var large = back.Graph.Initializers.Where(v => v.Const!.Bytes.Length >= 16).ToList();
        Assert.NotEmpty(large);
        Assert.All(large, v => Assert.Equal(TensorStorage.External, v.Const!.Storage));
    }

    [Fact]
    public void ReadBack_TensorsAreBitIdentical()
    {
        using var dir = new TempDirectory();

        var back = WriteExternal(dir, out var original);

        Assert.Equal(original.Graph.Initializers.Select(v => v.Name), back.Graph.Initializers.Select(v => v.Name));
        foreach (var (a, b) in original.Graph.Initializers.Zip(back.Graph.Initializers))
        {
            Assert.Equal(a.Const!.Dims, b.Const!.Dims);
            Assert.Equal(a.Const.DataType, b.Const.DataType);
            Assert.True(a.Const.Bytes.SequenceEqual(b.Const.Bytes), $"tensor '{a.Name}' changed");
        }
    }

    [Fact]
    public void OnnxRuntime_GivesTheSameOutputsAsTheInlineModel()
    {
        using var dir = new TempDirectory();
        WriteExternal(dir, out var original);
        using var inline = OnnxRunner.FromModel(original, new RunnerOptions { Threads = 1 });
        using var external = OnnxRunner.Load(dir.File("m.onnx"), new RunnerOptions { Threads = 1 });
        var inputs = inline.RandomInputs(batch: 3, seed: 5);

        var expected = (float[])inline.Run(inputs)[0].Data;
        var actual = (float[])external.Run(inputs)[0].Data;

        Assert.Equal(expected, actual);  // same weights, same session options: bit-identical
    }

    [Fact]
    public void ReadBackAndWriteInline_RoundTrips()
    {
        using var dir = new TempDirectory();
        var back = WriteExternal(dir, out var original);

        Assert.Equal(OnnxWriter.ToBytes(original), OnnxWriter.ToBytes(back));
    }

    [Fact]
    public void Locations_FindsExternalTensorsInInitializersAttributesAndSubgraphs()
    {
        using var dir = new TempDirectory();
        static Shrink.Onnx.Proto.TensorProto External(string location) => new()
        {
            Name = location, DataType = 1, Dims = { 4 }, DataLocation = Shrink.Onnx.Proto.TensorProto.Types.DataLocation.External,
            ExternalData = { new Shrink.Onnx.Proto.StringStringEntryProto { Key = "location", Value = location } },
        };
        var inner = new Shrink.Onnx.Proto.GraphProto { Name = "body", Initializer = { External("in_subgraph.bin") } };
        var graph = new Shrink.Onnx.Proto.GraphProto
        {
            Name = "g",
            Initializer = { External("initializer.bin"), new Shrink.Onnx.Proto.TensorProto { Name = "inline", DataType = 1, Dims = { 1 }, RawData = Google.Protobuf.ByteString.CopyFrom(new byte[4]) } },
            Node =
            {
                new Shrink.Onnx.Proto.NodeProto { OpType = "Constant", Attribute = { new Shrink.Onnx.Proto.AttributeProto { Name = "value", T = External("attribute.bin") } } },
                new Shrink.Onnx.Proto.NodeProto { OpType = "Foo", Attribute = { new Shrink.Onnx.Proto.AttributeProto { Name = "tensors", Tensors = { External("attribute_list.bin") } } } },
                new Shrink.Onnx.Proto.NodeProto { OpType = "If", Attribute = { new Shrink.Onnx.Proto.AttributeProto { Name = "then_branch", G = inner } } },
                new Shrink.Onnx.Proto.NodeProto { OpType = "Bar", Attribute = { new Shrink.Onnx.Proto.AttributeProto { Name = "graphs", Graphs = { inner.Clone() } } } },
            },
        };
        File.WriteAllBytes(dir.File("m.onnx"), new Shrink.Onnx.Proto.ModelProto { IrVersion = 8, Graph = graph }.ToByteArray());

        Assert.Equal(new[] { "attribute.bin", "attribute_list.bin", "in_subgraph.bin", "initializer.bin" }, ExternalDataFiles.Locations(dir.File("m.onnx"))!.Order(StringComparer.Ordinal));
        Assert.Null(ExternalDataFiles.Locations(dir.File("missing.onnx")));
    }
}
