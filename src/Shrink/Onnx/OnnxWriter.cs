using Google.Protobuf;
using Shrink.IO;
using Shrink.Ir;
using Shrink.Onnx.Proto;

namespace Shrink.Onnx;

/// <summary>Options for <see cref="OnnxWriter"/>.</summary>
public sealed record OnnxWriteOptions
{
    /// <summary>Store large initializers in a side file (<c>MODEL.onnx.data</c>). Forced on for models over 2 GB.</summary>
    public bool ExternalData { get; init; }

    /// <summary>Initializers of at least this many bytes go to the side file when <see cref="ExternalData"/> is on.</summary>
    public long ExternalThreshold { get; init; } = 1024;

    /// <summary>
    /// Bytes of initializer data past which external data is used whatever <see cref="ExternalData"/> says
    /// (default: just under protobuf's 2 GB limit on one message, as onnx's own save does for large models).
    /// </summary>
    public long InlineLimit { get; init; } = OnnxWriter.ProtobufLimit;

    /// <summary>
    /// After a write with external data, the loaded tensors written to the data file read their bytes from it from then on
    /// instead of keeping them in memory (the same values; <see cref="Tensor.IsLoaded"/> becomes false and
    /// <see cref="Tensor.Storage"/> external), as if the model had been read from that file: the file is held open (a model
    /// read from external data holds its file the same way), it may be renamed or deleted, and a change made to it in place is
    /// refused when the tensor is next read. Off by default; a command writing its result turns it on (<see cref="ForResultOf"/>).
    /// </summary>
    public bool MoveWritten { get; init; }

    /// <summary>
    /// How a command writes the model it made from <paramref name="input"/>: in external data when any of the input's initializers
    /// came from external data (a big model is then neither held nor written in one message, as the input was not), else inline;
    /// and with <see cref="MoveWritten"/>, so that the result's weights are in its file, not in memory as well, while the command
    /// checks and measures it.
    /// </summary>
    public static OnnxWriteOptions ForResultOf(Model input) => new() { ExternalData = UsesExternalData(input), MoveWritten = true };

    /// <summary>Whether any initializer of <paramref name="model"/> was read from external data.</summary>
    public static bool UsesExternalData(Model model) =>
        model.AllGraphs().SelectMany(g => g.Initializers).Any(v => v.Const!.Storage == TensorStorage.External);

    /// <summary><see cref="InlineLimit"/>, never past what protobuf can hold.</summary>
    internal long Inline => Math.Min(InlineLimit, OnnxWriter.ProtobufLimit);
}

/// <summary>
/// Writes the <see cref="Model"/> IR as an ONNX file, atomically (temporary file, then rename).
/// A model read with <see cref="OnnxReader"/> and written unchanged keeps every field.
/// </summary>
public static partial class OnnxWriter
{
    /// <summary>Protobuf cannot hold a message of 2 GiB; past this much tensor data external data is used.</summary>
    public const long ProtobufLimit = (1L << 31) - (64L << 20);

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> (refusing an output <paramref name="guard"/> protects).</summary>
    public static void Write(Model model, string path, OnnxWriteOptions? options = null, OutputGuard? guard = null)
    {
        using var staged = Stage(model, path, options, guard);
        staged.Commit();
    }

    /// <summary>The model as ONNX bytes with all data inline.</summary>
    public static byte[] ToBytes(Model model)
    {
        if (NeedsExternalData(model, ProtobufLimit))
            throw new InvalidOperationException("the model holds over 2 GB of tensor data; write it to a file with external data");
        return ToProto(model, null).ToByteArray();
    }

    /// <summary>
    /// Why a write with <paramref name="options"/> stores the weights in external data though they did not ask
    /// for it (the model's initializers exceed <see cref="OnnxWriteOptions.InlineLimit"/>), as a line for the user; null otherwise.
    /// </summary>
    public static string? AutoExternalNote(Model model, OnnxWriteOptions? options = null)
    {
        options ??= new OnnxWriteOptions();
        if (options.ExternalData || !NeedsExternalData(model, options.Inline)) return null;
        var bytes = InitializerBytes(model);
        return $"the model holds {bytes / 1e9:0.00} GB of weights, over the {options.Inline / 1e9:0.00} GB one ONNX file can hold inline (protobuf's limit), so they are written to external data beside it";
    }

    /// <summary>True when the model's tensor data is over <paramref name="limit"/> bytes (counted without loading any).</summary>
    internal static bool NeedsExternalData(Model m, long limit) => InitializerBytes(m) > limit;

    private static long InitializerBytes(Model m) => m.AllGraphs().SelectMany(g => g.Initializers).Sum(v => v.Const!.ByteLength);

    /// <param name="m">The model.</param>
    /// <param name="sink">Where large tensors go (null: all inline).</param>
    /// <param name="deferred">Top-level initializers written without their data, which the caller streams (<see cref="WriteInline"/>).</param>
    private static ModelProto ToProto(Model m, ExternalSink? sink, IReadOnlySet<Tensor>? deferred = null)
    {
        var p = new ModelProto { IrVersion = m.IrVersion, Graph = WriteGraph(m.Graph, sink, deferred) };
        p.OpsetImport.AddRange(m.OpsetImports.Select(kv => new OperatorSetIdProto { Domain = kv.Key, Version = kv.Value }));
        if (m.ProducerName is not null) p.ProducerName = m.ProducerName;
        if (m.ProducerVersion is not null) p.ProducerVersion = m.ProducerVersion;
        if (m.Domain is not null) p.Domain = m.Domain;
        if (m.ModelVersion is { } mv) p.ModelVersion = mv;
        if (m.DocString is not null) p.DocString = m.DocString;
        p.MetadataProps.AddRange(m.Metadata.Select(kv => new StringStringEntryProto { Key = kv.Key, Value = kv.Value }));
        Residues.MergeInto(p, m.Residue);
        return p;
    }

    private static GraphProto WriteGraph(Graph g, ExternalSink? sink, IReadOnlySet<Tensor>? deferred = null)
    {
        var p = new GraphProto { Name = g.Name };
        if (g.DocString is not null) p.DocString = g.DocString;
        p.Node.AddRange(g.Nodes.Select(n => WriteNode(n, sink)));
        p.Initializer.AddRange(g.Initializers.Select(v => deferred?.Contains(v.Const!) == true ? WriteHeader(v.Const!) : WriteTensor(v.Const!, sink)));
        p.Input.AddRange(g.Inputs.Select(TypeCodec.ToProto));
        p.Output.AddRange(g.Outputs.Select(TypeCodec.ToProto));
        p.ValueInfo.AddRange(g.ValueInfos.Select(TypeCodec.ToProto));
        Residues.MergeInto(p, g.Residue);
        return p;
    }

    private static NodeProto WriteNode(Node n, ExternalSink? sink)
    {
        var p = new NodeProto { OpType = n.OpType };
        if (n.Name.Length > 0) p.Name = n.Name;
        if (n.Domain.Length > 0) p.Domain = n.Domain;
        if (n.DocString is not null) p.DocString = n.DocString;
        p.Input.AddRange(n.Inputs.Select(v => v?.Name ?? ""));
        p.Output.AddRange(n.Outputs.Select(v => v?.Name ?? ""));
        p.Attribute.AddRange(n.Attributes.Select(a => AttributeCodec.Write(a, g => WriteGraph(g, sink), t => WriteTensor(t, null))));
        Residues.MergeInto(p, n.Residue);
        return p;
    }

    private static TensorProto WriteTensor(Tensor t, ExternalSink? sink)
    {
        var p = new TensorProto();
        if (sink is not null && t.DataType != DataType.String && t.ByteLength >= sink.Threshold)
            sink.Store(t, p);
        else
            TensorCodec.Encode(InlineForm(t), p);
        Residues.MergeInto(p, t.Residue);
        return p;
    }

    /// <summary>A raw-data tensor's message without its data (which the caller writes after it).</summary>
    private static TensorProto WriteHeader(Tensor t)
    {
        var p = new TensorProto { Name = t.Name, DataType = (int)t.DataType };
        p.Dims.AddRange(t.Dims);
        if (t.DocString is not null) p.DocString = t.DocString;
        Residues.MergeInto(p, t.Residue);
        return p;
    }

    /// <summary>
    /// Data that came from an external file is written inline as raw bytes; an unloaded tensor's are read
    /// for the message alone (wrapped, not copied again), and the tensor stays unloaded.
    /// </summary>
    private static Tensor InlineForm(Tensor t) => t.Storage == TensorStorage.External
        ? new Tensor(t.Name, t.DataType, t.Dims, t.IsLoaded ? t.SharedBytes : t.CopyBytes(), TensorStorage.Raw) { DocString = t.DocString } // only encoded, never written to
        : t;
}
