using Google.Protobuf;
using Shrink.Onnx;
using Shrink.Onnx.Proto;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Onnx;

/// <summary>Read → write keeps every field: over the model corpus and over hand-made models that use rare fields.</summary>
public class RoundTripTests
{
    public static TheoryData<string> Zoo => TestModels.Zoo;
    public static TheoryData<string> Torch => TestModels.Torch;

    [Theory]
    [MemberData(nameof(Zoo))]
    public void ZooModel_RoundTripsByteForByte(string name)
    {
        var first = OnnxWriter.ToBytes(ModelZoo.Create(name));

        var second = OnnxWriter.ToBytes(OnnxReader.Read(first));

        AssertSameProto(ModelProto.Parser.ParseFrom(first), ModelProto.Parser.ParseFrom(second));
        Assert.Equal(first, second);
    }

    [Theory]
    [MemberData(nameof(Torch))]
    public void TorchModel_RoundTripsToAnEqualProto(string name)
    {
        var original = File.ReadAllBytes(TestModels.TorchPath(name));

        var written = OnnxWriter.ToBytes(OnnxReader.Read(TestModels.TorchPath(name)));

        AssertSameProto(ModelProto.Parser.ParseFrom(original), ModelProto.Parser.ParseFrom(written));
    }

    [Fact]
    public void CustomOpWithEveryAttributeKind_Survives()
    {
        var m = ProtoModels.Minimal();
        var node = ProtoModels.Node("Weird", new[] { "x" }, new[] { "w_out" }, "weird", "com.example");
        node.Attribute.Add(new AttributeProto { Name = "f", Type = AttributeProto.Types.AttributeType.Float, F = 0.25f, DocString = "a float" });
        node.Attribute.Add(new AttributeProto { Name = "i", Type = AttributeProto.Types.AttributeType.Int, I = -7 });
        node.Attribute.Add(new AttributeProto { Name = "s", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("héllo") });
        node.Attribute.Add(new AttributeProto { Name = "t", Type = AttributeProto.Types.AttributeType.Tensor, T = ProtoModels.FloatTensor("t_value", 1.5f, -2f) });
        node.Attribute.Add(new AttributeProto { Name = "g", Type = AttributeProto.Types.AttributeType.Graph, G = ProtoModels.Branch("g_body", "Identity", "g_out") });
        node.Attribute.Add(Repeated("floats", AttributeProto.Types.AttributeType.Floats, a => a.Floats.Add(new[] { 1f, float.NegativeInfinity, -0f })));
        node.Attribute.Add(Repeated("ints", AttributeProto.Types.AttributeType.Ints, a => a.Ints.Add(new[] { 1L, -1L, long.MaxValue })));
        node.Attribute.Add(Repeated("strings", AttributeProto.Types.AttributeType.Strings, a => a.Strings.Add(new[] { ByteString.CopyFromUtf8("a"), ByteString.Empty })));
        node.Attribute.Add(Repeated("tensors", AttributeProto.Types.AttributeType.Tensors, a => a.Tensors.Add(ProtoModels.FloatTensor("t0", 3f))));
        node.Attribute.Add(Repeated("graphs", AttributeProto.Types.AttributeType.Graphs, a => a.Graphs.Add(ProtoModels.Branch("gs_body", "Neg", "gs_out"))));
        node.Attribute.Add(new AttributeProto { Name = "sparse", Type = AttributeProto.Types.AttributeType.SparseTensor, SparseTensor = ByteString.CopyFrom(1, 2, 3) });
        node.Attribute.Add(new AttributeProto { Name = "tp", Type = AttributeProto.Types.AttributeType.TypeProto, Tp = ByteString.CopyFrom(8, 1) });
        node.Attribute.Add(new AttributeProto { Name = "untyped", I = 4 });  // very old files give no type
        m.Graph.Node.Add(node);
        m.Graph.Output.Add(ProtoModels.FloatInfo("w_out", 2, 3));
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.example", Version = 1 });

        AssertRoundTrips(m);
    }

    [Fact]
    public void IfNodeWithBranchesReadingAnOuterValue_Survives()
    {
        var m = ProtoModels.Minimal();
        m.Graph.Input.Add(new ValueInfoProto { Name = "cond", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 9, Shape = new TensorShapeProto() } } });
        var node = ProtoModels.Node("If", new[] { "cond" }, new[] { "if_out" }, "choose");
        node.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = ProtoModels.Branch("then", "Identity", "then_out") });
        node.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = ProtoModels.Branch("else", "Neg", "else_out") });
        m.Graph.Node.Add(node);
        m.Graph.Output.Add(ProtoModels.FloatInfo("if_out", 2, 3));

        var model = AssertRoundTrips(m);

        var ifNode = model.Graph.FindNode("choose")!;
        Assert.Same(model.Graph.Inputs[0], ifNode.Subgraphs.First().Nodes[0].Inputs[0]);
        Assert.Empty(Shrink.Ir.GraphValidator.Validate(model));
    }

    [Fact]
    public void MetadataDocStringsAndValueInfo_Survive()
    {
        var m = ProtoModels.Minimal();
        m.DocString = "model doc";
        m.Domain = "org.example";
        m.ModelVersion = 42;
        m.MetadataProps.Add(new StringStringEntryProto { Key = "author", Value = "tests" });
        m.MetadataProps.Add(new StringStringEntryProto { Key = "", Value = "empty key" });
        m.Graph.DocString = "graph doc";
        m.Graph.Node[0].DocString = "node doc";
        m.Graph.Input[0].DocString = "input doc";
        m.Graph.Input[0].MetadataProps.Add(new StringStringEntryProto { Key = "k", Value = "v" });
        m.Graph.Input[0].Type.TensorType.Shape.Dim[0].Denotation = "DATA_BATCH";
        m.Graph.Input[0].Type.Denotation = "TENSOR";
        m.Graph.ValueInfo.Add(ProtoModels.FloatInfo("not_in_graph", 5));
        m.Graph.ValueInfo.Add(new ValueInfoProto { Name = "y", DocString = "output info without a type" });
        m.Graph.MetadataProps.Add(new StringStringEntryProto { Key = "graph", Value = "meta" });
        m.Graph.QuantizationAnnotation.Add(ByteString.CopyFrom(10, 1, 0x79));

        AssertRoundTrips(m);
    }

    [Fact]
    public void TypedAndPackedTensors_Survive()
    {
        var m = ProtoModels.Minimal();
        var inits = m.Graph.Initializer;
        inits.Add(ProtoModels.FloatTensor("float_data", 1f, float.NaN, -0f));
        inits.Add(Typed("int8", 3, 3, t => t.Int32Data.Add(new[] { -128, 0, 127 })));
        inits.Add(Typed("uint8", 2, 2, t => t.Int32Data.Add(new[] { 0, 255 })));
        inits.Add(Typed("float16", 10, 2, t => t.Int32Data.Add(new[] { 0x3C00, 0xC000 })));
        inits.Add(Typed("int64", 7, 2, t => t.Int64Data.Add(new[] { long.MinValue, 5L })));
        inits.Add(Typed("double", 11, 1, t => t.DoubleData.Add(Math.PI)));
        inits.Add(Typed("uint32", 12, 1, t => t.Uint64Data.Add(uint.MaxValue)));
        inits.Add(Typed("strings", 8, 2, t => t.StringData.Add(new[] { ByteString.CopyFromUtf8("x"), ByteString.Empty })));
        inits.Add(Typed("int4_raw", 22, 3, t => t.RawData = ByteString.CopyFrom(0x21, 0x0F)));
        inits.Add(Typed("with_meta", 1, 1, t => { t.RawData = ByteString.CopyFrom(0, 0, 0x80, 0x3F); t.MetadataProps.Add(new StringStringEntryProto { Key = "q", Value = "1" }); }));

        var model = AssertRoundTrips(m);

        Assert.Equal(new byte[] { 0x80, 0, 0x7F }, model.Graph.FindInitializer("int8")!.Const!.RawData);
        Assert.Equal(new byte[] { 0x21, 0x0F }, model.Graph.FindInitializer("int4_raw")!.Const!.RawData);
    }

    [Fact]
    public void NodeOverloadMetadataAndUnknownFields_Survive()
    {
        var m = ProtoModels.Minimal();
        var relu = m.Graph.Node[0];
        relu.Overload = "fast";
        relu.MetadataProps.Add(new StringStringEntryProto { Key = "source", Value = "model.py:12" });
        relu.DeviceConfigurations.Add(ByteString.CopyFrom(1, 2));
        // Field 99 (varint 5) is unknown to onnx.proto; it must be kept as an unknown field.
        m.Graph.Node[0] = NodeProto.Parser.ParseFrom(relu.ToByteArray().Concat(new byte[] { 0x98, 0x06, 0x05 }).ToArray());

        AssertRoundTrips(m);
    }

    [Fact]
    public void FunctionsAndOtherOpaqueModelFields_Survive()
    {
        var m = ProtoModels.Minimal();
        m.Functions.Add(ByteString.CopyFromUtf8("\n\u0003Fn1\u0012\u0007ex.com"));  // a FunctionProto's bytes, kept opaque
        m.Functions.Add(ByteString.CopyFrom(0x0A, 0x00));
        m.TrainingInfo.Add(ByteString.CopyFrom(0x12, 0x00));
        m.Configuration.Add(ByteString.CopyFrom(0x0A, 0x01, 0x41));
        m.Graph.SparseInitializer.Add(ByteString.CopyFrom(0x1A, 0x00));

        AssertRoundTrips(m);
    }

    private static AttributeProto Repeated(string name, AttributeProto.Types.AttributeType type, Action<AttributeProto> fill)
    {
        var a = new AttributeProto { Name = name, Type = type };
        fill(a);
        return a;
    }

    private static TensorProto Typed(string name, int dataType, long count, Action<TensorProto> fill)
    {
        var t = new TensorProto { Name = name, DataType = dataType, DocString = name + " doc" };
        t.Dims.Add(count);
        fill(t);
        return t;
    }

    /// <summary>Reads the proto's bytes, writes them back, and checks the result equals the proto; returns the IR.</summary>
    private static Shrink.Ir.Model AssertRoundTrips(ModelProto original)
    {
        var model = OnnxReader.Read(original.ToByteArray());
        var written = OnnxWriter.ToBytes(model);
        AssertSameProto(original, ModelProto.Parser.ParseFrom(written));
        Assert.Equal(written, OnnxWriter.ToBytes(OnnxReader.Read(written)));
        return model;
    }

    /// <summary>Protobuf equality, with a failure message that points at the first part that differs.</summary>
    internal static void AssertSameProto(ModelProto expected, ModelProto actual)
    {
        if (expected.Equals(actual)) return;
        var (e, a) = (expected.Graph, actual.Graph);
        var where = e is null || a is null ? "graph presence"
            : FirstDiff("node", e.Node, a.Node) ?? FirstDiff("initializer", e.Initializer, a.Initializer)
            ?? FirstDiff("input", e.Input, a.Input) ?? FirstDiff("output", e.Output, a.Output)
            ?? FirstDiff("value_info", e.ValueInfo, a.ValueInfo) ?? (e.Equals(a) ? "model header" : "graph header");
        Assert.Fail($"protos differ at {where}");
    }

    private static string? FirstDiff<T>(string field, IList<T> e, IList<T> a) where T : IMessage
    {
        if (e.Count != a.Count) return $"{field}: {e.Count} entries, written {a.Count}";
        for (var i = 0; i < e.Count; i++)
            if (!e[i].Equals(a[i])) return $"{field}[{i}]: expected {Clip(e[i])}, written {Clip(a[i])}";
        return null;
    }

    private static string Clip(IMessage m) => (m.ToString() ?? "") is var s && s.Length > 400 ? s[..400] + "…" : s;
}
