using Google.Protobuf;
using Shrink.Onnx.Proto;

namespace Shrink.Onnx;

/// <summary>
/// The parts of each ONNX message that the IR does not model (functions, overloads, metadata on nodes,
/// denotations, unknown fields): a copy of the message with the modelled fields cleared. The writer
/// merges it back, so nothing is lost on a round trip.
/// </summary>
internal static class Residues
{
    public static IMessage? OfModel(ModelProto p) => Keep(p, r =>
    {
        r.ClearIrVersion(); r.OpsetImport.Clear(); r.ClearProducerName(); r.ClearProducerVersion();
        r.ClearDomain(); r.ClearModelVersion(); r.ClearDocString(); r.Graph = null; r.MetadataProps.Clear();
    });

    public static IMessage? OfGraph(GraphProto p) => Keep(p, r =>
    {
        r.Node.Clear(); r.ClearName(); r.Initializer.Clear(); r.ClearDocString();
        r.Input.Clear(); r.Output.Clear(); r.ValueInfo.Clear();
    });

    public static IMessage? OfNode(NodeProto p) => Keep(p, r =>
    {
        r.Input.Clear(); r.Output.Clear(); r.ClearName(); r.ClearOpType(); r.ClearDomain();
        r.Attribute.Clear(); r.ClearDocString();
    });

    public static IMessage? OfTensor(TensorProto p) => Keep(p, r =>
    {
        r.Dims.Clear(); r.ClearDataType(); r.FloatData.Clear(); r.Int32Data.Clear(); r.StringData.Clear();
        r.Int64Data.Clear(); r.ClearName(); r.ClearDocString(); r.ClearRawData(); r.ExternalData.Clear();
        r.ClearDataLocation(); r.DoubleData.Clear(); r.Uint64Data.Clear();
    });

    public static IMessage? OfValueInfo(ValueInfoProto p) => Keep(p, r =>
    {
        r.ClearName();
        if (r.Type is { TensorType: not null } t)
        {
            t.TensorType = null;  // modelled; a denotation on the type stays
            if (!t.HasDenotation) r.Type = null;
        }
        else r.Type = null;      // opaque types are kept whole on the value
    });

    public static IMessage? OfAttribute(AttributeProto p) => Keep(p, r =>
    {
        r.ClearName(); r.ClearRefAttrName(); r.ClearDocString(); r.ClearType(); r.ClearF(); r.ClearI(); r.ClearS();
        r.T = null; r.G = null; r.ClearSparseTensor(); r.ClearTp(); r.Floats.Clear(); r.Ints.Clear(); r.Strings.Clear();
        r.Tensors.Clear(); r.Graphs.Clear(); r.SparseTensors.Clear(); r.TypeProtos.Clear();
    });

    /// <summary>Merges a residue back into a message being written.</summary>
    public static void MergeInto<T>(T target, IMessage? residue) where T : IMessage<T>
    {
        if (residue is T r) target.MergeFrom(r);
    }

    private static IMessage? Keep<T>(T p, Action<T> clearModelled) where T : IMessage<T>, IDeepCloneable<T>
    {
        var r = p.Clone();
        clearModelled(r);
        return r.CalculateSize() == 0 ? null : r;
    }
}
