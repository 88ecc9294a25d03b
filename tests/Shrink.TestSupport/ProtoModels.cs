using Google.Protobuf;
using Shrink.Onnx.Proto;

namespace Shrink.TestSupport;

/// <summary>Small models built from the ONNX proto classes directly, for tests that need exact control of the bytes.</summary>
internal static class ProtoModels
{
    /// <summary>x: float[2,3] → Relu "relu" → y, opset 17.</summary>
    public static ModelProto Minimal()
    {
        var graph = new GraphProto { Name = "minimal" };
        graph.Input.Add(FloatInfo("x", 2, 3));
        graph.Node.Add(Node("Relu", new[] { "x" }, new[] { "y" }, "relu"));
        graph.Output.Add(FloatInfo("y", 2, 3));
        var m = new ModelProto { IrVersion = 9, ProducerName = "shrink-tests", Graph = graph };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return m;
    }

    /// <summary>A subgraph applying <paramref name="op"/> to the outer value <c>x</c>.</summary>
    public static GraphProto Branch(string name, string op, string output)
    {
        var g = new GraphProto { Name = name };
        g.Node.Add(Node(op, new[] { "x" }, new[] { output }, name + "_node"));
        g.Output.Add(FloatInfo(output, 2, 3));
        return g;
    }

    public static NodeProto Node(string op, string[] inputs, string[] outputs, string name, string? domain = null)
    {
        var n = new NodeProto { OpType = op, Name = name };
        if (domain is not null) n.Domain = domain;
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        return n;
    }

    public static ValueInfoProto FloatInfo(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
    }

    /// <summary>A 1-D float tensor stored in <c>float_data</c>.</summary>
    public static TensorProto FloatTensor(string name, params float[] values)
    {
        var t = new TensorProto { Name = name, DataType = 1 };
        t.Dims.Add(values.Length);
        t.FloatData.AddRange(values);
        return t;
    }

    /// <summary>A float initializer with raw data of the given byte length (whatever its dims say).</summary>
    public static TensorProto RawTensor(string name, long[] dims, int byteCount)
    {
        var t = new TensorProto { Name = name, DataType = 1, RawData = ByteString.CopyFrom(new byte[byteCount]) };
        t.Dims.AddRange(dims);
        return t;
    }
}
