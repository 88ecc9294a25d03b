using Google.Protobuf;
using Shrink.Ir;
using Shrink.Onnx.Proto;
using Kind = Shrink.Onnx.Proto.AttributeProto.Types.AttributeType;

namespace Shrink.Onnx;

/// <summary>Converts between <see cref="AttributeProto"/> and <see cref="Ir.Attribute"/>.</summary>
internal static class AttributeCodec
{
    public static Ir.Attribute Read(AttributeProto p, Func<GraphProto, Graph> readGraph, Func<TensorProto, Tensor> readTensor, string where)
    {
        var kind = p.HasType ? p.Type : InferKind(p);
        object? value = kind switch
        {
            Kind.Float => p.F,
            Kind.Int => p.I,
            Kind.String => p.S.ToByteArray(),
            Kind.Tensor => p.T is null ? throw Missing(p, where) : readTensor(p.T),
            Kind.Graph => p.G is null ? throw Missing(p, where) : readGraph(p.G),
            Kind.SparseTensor => p.SparseTensor.ToByteArray(),
            Kind.TypeProto => p.Tp.ToByteArray(),
            Kind.Floats => p.Floats.ToArray(),
            Kind.Ints => p.Ints.ToArray(),
            Kind.Strings => p.Strings.Select(s => s.ToByteArray()).ToArray(),
            Kind.Tensors => p.Tensors.Select(readTensor).ToArray(),
            Kind.Graphs => p.Graphs.Select(readGraph).ToArray(),
            Kind.SparseTensors => p.SparseTensors.Select(s => s.ToByteArray()).ToArray(),
            Kind.TypeProtos => p.TypeProtos.Select(s => s.ToByteArray()).ToArray(),
            _ => null,
        };
        return new Ir.Attribute(p.Name, (AttributeKind)kind, value)
        {
            DocString = p.HasDocString ? p.DocString : null,
            RefAttrName = p.HasRefAttrName ? p.RefAttrName : null,
            TypeOmitted = !p.HasType,
            Residue = Residues.OfAttribute(p),
        };
    }

    public static AttributeProto Write(Ir.Attribute a, Func<Graph, GraphProto> writeGraph, Func<Tensor, TensorProto> writeTensor)
    {
        var p = new AttributeProto { Name = a.Name };
        if (!a.TypeOmitted) p.Type = (Kind)a.Kind;
        if (a.DocString is not null) p.DocString = a.DocString;
        if (a.RefAttrName is not null) p.RefAttrName = a.RefAttrName;
        switch (a.Value)
        {
            case float f: p.F = f; break;
            case long i: p.I = i; break;
            case byte[] b when a.Kind == AttributeKind.String: p.S = ByteString.CopyFrom(b); break;
            case byte[] b when a.Kind == AttributeKind.SparseTensor: p.SparseTensor = ByteString.CopyFrom(b); break;
            case byte[] b when a.Kind == AttributeKind.TypeProto: p.Tp = ByteString.CopyFrom(b); break;
            case Tensor t: p.T = writeTensor(t); break;
            case Graph g: p.G = writeGraph(g); break;
            case float[] fs: p.Floats.AddRange(fs); break;
            case long[] ints: p.Ints.AddRange(ints); break;
            case byte[][] bs when a.Kind == AttributeKind.Strings: p.Strings.AddRange(bs.Select(ByteString.CopyFrom)); break;
            case byte[][] bs when a.Kind == AttributeKind.SparseTensors: p.SparseTensors.AddRange(bs.Select(ByteString.CopyFrom)); break;
            case byte[][] bs when a.Kind == AttributeKind.TypeProtos: p.TypeProtos.AddRange(bs.Select(ByteString.CopyFrom)); break;
            case Tensor[] ts: p.Tensors.AddRange(ts.Select(writeTensor)); break;
            case Graph[] gs: p.Graphs.AddRange(gs.Select(writeGraph)); break;
        }
        Residues.MergeInto(p, a.Residue);
        return p;
    }

    /// <summary>Files from before attribute types were written: the kind follows from the field that is set.</summary>
    private static Kind InferKind(AttributeProto p) =>
        p.HasF ? Kind.Float : p.HasI ? Kind.Int : p.HasS ? Kind.String : p.T is not null ? Kind.Tensor
        : p.G is not null ? Kind.Graph : p.Floats.Count > 0 ? Kind.Floats : p.Ints.Count > 0 ? Kind.Ints
        : p.Strings.Count > 0 ? Kind.Strings : p.Tensors.Count > 0 ? Kind.Tensors : p.Graphs.Count > 0 ? Kind.Graphs
        : Kind.Undefined;

    private static ModelFormatException Missing(AttributeProto p, string where) =>
        new($"{where}: attribute '{p.Name}' is of type {p.Type} but holds no value");
}
