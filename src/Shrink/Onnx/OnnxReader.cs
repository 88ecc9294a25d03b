using Google.Protobuf;
using Shrink.Ir;
using Shrink.Onnx.Proto;

namespace Shrink.Onnx;

/// <summary>
/// Reads ONNX files into the <see cref="Model"/> IR, losslessly: every node, attribute, initializer bit,
/// metadata entry, unknown op and domain, and every field the IR does not model is kept for writing back.
/// Corrupt input raises <see cref="ModelFormatException"/> with the file and what is wrong.
/// </summary>
public static class OnnxReader
{
    /// <summary>Reads a model file (a regular file: a FIFO or device is refused); external data is resolved relative to the file's directory.</summary>
    public static Model Read(string path)
    {
        if (Directory.Exists(path))
            throw new ModelFormatException($"'{path}' is a directory; pass the path of an .onnx file");
        if (!File.Exists(path))
            throw new ModelFormatException($"model file '{path}' does not exist; check the path");
        if (IO.FileIdentity.NotRegular(path, "model file") is { } problem) throw new ModelFormatException(problem);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (IOException e) { throw new ModelFormatException($"cannot read '{path}': {e.Message}", e); }
        catch (UnauthorizedAccessException e) { throw new ModelFormatException($"cannot read '{path}': {e.Message}", e); }
        return Read(bytes, Path.GetDirectoryName(Path.GetFullPath(path)), path);
    }

    /// <summary>Reads a model from bytes; <paramref name="baseDirectory"/> resolves external data (null: none allowed).</summary>
    public static Model Read(byte[] bytes, string? baseDirectory = null, string source = "model")
    {
        var proto = Parse(bytes, source);
        CheckHeader(proto, source);
        var ctx = new ReadContext(source, baseDirectory);
        var model = new Model(ReadGraph(proto.Graph, null, ctx, "graph"))
        {
            IrVersion = proto.IrVersion,
            ProducerName = proto.HasProducerName ? proto.ProducerName : null,
            ProducerVersion = proto.HasProducerVersion ? proto.ProducerVersion : null,
            Domain = proto.HasDomain ? proto.Domain : null,
            ModelVersion = proto.HasModelVersion ? proto.ModelVersion : null,
            DocString = proto.HasDocString ? proto.DocString : null,
        };
        model.OpsetImports.AddRange(proto.OpsetImport.Select(o => new KeyValuePair<string, long>(o.Domain, o.Version)));
        model.Metadata.AddRange(proto.MetadataProps.Select(e => new KeyValuePair<string, string>(e.Key, e.Value)));
        model.Residue = Residues.OfModel(proto);
        return model;
    }

    private static ModelProto Parse(byte[] bytes, string source)
    {
        if (bytes.Length == 0)
            throw new ModelFormatException($"'{source}' is empty (0 bytes), not an ONNX model; re-export or re-download it");
        var input = new CodedInputStream(bytes);
        try
        {
            var proto = new ModelProto();
            proto.MergeFrom(input);
            return proto;
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ModelFormatException($"'{source}' is not a valid ONNX model: protobuf decoding failed near byte {input.Position} of {bytes.Length} ({e.Message.TrimEnd('.')}); the file is truncated, corrupt or not ONNX", e);
        }
    }

    private static void CheckHeader(ModelProto p, string source)
    {
        if (p.Graph is null)
            throw new ModelFormatException($"'{source}' is not an ONNX model: it has no graph (field 7 of ModelProto); the file is corrupt or not ONNX");
        if (!p.HasIrVersion || p.IrVersion <= 0)
            throw new ModelFormatException($"'{source}' is not an ONNX model: it has no IR version (field 1 of ModelProto); the file is corrupt or not ONNX");
        if (p.IrVersion >= 3 && p.OpsetImport.Count == 0)
            throw new ModelFormatException($"'{source}' declares IR version {p.IrVersion} but imports no opset; re-export the model with an opset");
    }

    private static Graph ReadGraph(GraphProto p, Scope? outer, ReadContext ctx, string where)
    {
        var g = new Graph(p.Name) { DocString = p.HasDocString ? p.DocString : null, Residue = Residues.OfGraph(p) };
        var scope = new Scope(outer);
        foreach (var vi in p.Input) g.Inputs.Add(scope.DefineInput(TypeCodec.ToValue(vi), where));
        foreach (var tp in p.Initializer) g.Initializers.Add(ReadInitializer(tp, scope, ctx, where));
        foreach (var np in p.Node) g.AddNode(ReadNode(np, scope, ctx, $"{where}/node '{NodeLabel(np)}'"));
        foreach (var vi in p.Output) g.Outputs.Add(TypeCodec.Apply(scope.Lookup(vi.Name), vi));
        var declared = new HashSet<Value>(g.Inputs.Concat(g.Outputs)); // a set: a lookup per entry, not a scan
        foreach (var vi in p.ValueInfo) g.ValueInfos.Add(ReadValueInfo(vi, declared, scope));
        return g;
    }

    /// <summary>
    /// A value_info entry normally types an intermediate value. One that repeats a graph input or output
    /// with different contents gets a detached value, so both entries are written back unchanged.
    /// </summary>
    private static Value ReadValueInfo(ValueInfoProto vi, HashSet<Value> inputsAndOutputs, Scope scope)
    {
        var v = scope.LookupOrDetached(vi.Name);
        return inputsAndOutputs.Contains(v) && !TypeCodec.ToProto(v).Equals(vi) ? TypeCodec.ToValue(vi) : TypeCodec.Apply(v, vi);
    }

    private static Value ReadInitializer(TensorProto tp, Scope scope, ReadContext ctx, string where)
    {
        var t = ReadTensor(tp, ctx, where);
        var existing = scope.FindLocal(tp.Name);
        if (existing is not null && existing.Const is null && existing.Producer is null)
        {
            existing.Const = t;
            return existing;
        }
        return scope.Define(new Value(tp.Name, t.DataType, t.Shape) { Const = t }, where);
    }

    internal static Tensor ReadTensor(TensorProto tp, ReadContext ctx, string where)
    {
        var t = tp.DataLocation == TensorProto.Types.DataLocation.External
            ? ExternalData.Load(tp, ctx.BaseDirectory, $"'{ctx.Source}' {where}", ctx.Files)
            : TensorCodec.Decode(tp, $"'{ctx.Source}' {where}");
        t.Residue = Residues.OfTensor(tp);
        return t;
    }

    private static Node ReadNode(NodeProto np, Scope scope, ReadContext ctx, string where)
    {
        var node = new Node(np.OpType, np.Domain, np.Name)
        {
            DocString = np.HasDocString ? np.DocString : null,
            Residue = Residues.OfNode(np),
        };
        foreach (var ap in np.Attribute) node.Attributes.Add(AttributeCodec.Read(ap, a => ReadGraph(a, scope, ctx, $"{where}/{ap.Name}"), t => ReadTensor(t, ctx, where), where));
        foreach (var name in np.Input) node.AddInput(name.Length == 0 ? null : scope.Lookup(name));
        foreach (var name in np.Output) node.AddOutput(name.Length == 0 ? null : scope.DefineOutput(name, $"'{ctx.Source}' {where}"));
        return node;
    }

    private static string NodeLabel(NodeProto np) => np.Name.Length > 0 ? np.Name : $"{np.OpType}→{np.Output.FirstOrDefault()}";

    internal sealed record ReadContext(string Source, string? BaseDirectory)
    {
        /// <summary>The external data files opened so far, by real path: each opened once per model.</summary>
        public Dictionary<string, DataFile> Files { get; } = new(StringComparer.Ordinal);
    }
}
