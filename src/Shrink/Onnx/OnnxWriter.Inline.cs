using Google.Protobuf;
using Shrink.Ir;
using Shrink.Onnx.Proto;

namespace Shrink.Onnx;

/// <summary>
/// Writing a model inline without holding its unloaded weights: the top-level initializers still in external data
/// are written after the rest of the graph, each message's <c>raw_data</c> (field 9) copied from the tensor's range in
/// chunks. Protobuf reads the fields of a message in any order, and the initializers keep theirs, so the file parses to
/// the message <see cref="ToBytes"/> would make.
/// </summary>
public static partial class OnnxWriter
{
    private static void WriteInline(Model model, Stream s)
    {
        var deferred = model.Graph.Initializers.Select(v => v.Const!).Where(t => !t.IsLoaded && t.DataType != DataType.String).ToHashSet();
        if (deferred.Count == 0)
        {
            ToProto(model, null).WriteTo(s);
            return;
        }
        var p = ToProto(model, null, deferred);
        var graph = p.Graph;
        p.Graph = null;
        var initializers = graph.Initializer.Zip(model.Graph.Initializers, (proto, v) => (proto, deferred.Contains(v.Const!) ? v.Const : null)).ToList();
        graph.Initializer.Clear();
        var sizes = initializers.Select(i => i.proto.CalculateSize() + (i.Item2 is { } t ? RawFieldSize(t.ByteLength) : 0)).ToList();
        var graphSize = graph.CalculateSize() + sizes.Sum(n => (long)FieldSize(n));
        var output = new CodedOutputStream(s, leaveOpen: true);
        p.WriteTo(output);
        output.WriteTag(ModelProto.GraphFieldNumber, WireFormat.WireType.LengthDelimited);
        output.WriteLength(checked((int)graphSize));
        graph.WriteTo(output);
        foreach (var ((proto, tensor), size) in initializers.Zip(sizes))
        {
            output.WriteTag(GraphProto.InitializerFieldNumber, WireFormat.WireType.LengthDelimited);
            output.WriteLength(size);
            proto.WriteTo(output);
            if (tensor is null) continue;
            output.WriteTag(TensorProto.RawDataFieldNumber, WireFormat.WireType.LengthDelimited);
            output.WriteLength(checked((int)tensor.ByteLength));
            output.Flush();
            tensor.CopyTo(s);
        }
        output.Flush();
    }

    /// <summary>Bytes of a length-delimited field of <paramref name="length"/> bytes (field numbers under 16: a one-byte tag).</summary>
    private static int FieldSize(int length) => 1 + CodedOutputStream.ComputeLengthSize(length) + length;

    private static int RawFieldSize(long length) => FieldSize(checked((int)length));
}
