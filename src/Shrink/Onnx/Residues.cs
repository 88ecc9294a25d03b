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
    // The graph, its lists and a node's attributes are moved aside while the message is cloned (and put back):
    // the IR reads them itself, and cloning them only to clear them again copied the model once per level.

    public static IMessage? OfModel(ModelProto p)
    {
        var graph = p.Graph;
        p.Graph = null;
        try
        {
            return Keep(p, r =>
            {
                r.ClearIrVersion(); r.OpsetImport.Clear(); r.ClearProducerName(); r.ClearProducerVersion();
                r.ClearDomain(); r.ClearModelVersion(); r.ClearDocString(); r.MetadataProps.Clear();
            });
        }
        finally { p.Graph = graph; }
    }

    public static IMessage? OfGraph(GraphProto p) => KeepWithout(p, new[] { Aside(p.Node), Aside(p.Initializer), Aside(p.Input), Aside(p.Output), Aside(p.ValueInfo) },
        r => { r.ClearName(); r.ClearDocString(); });

    public static IMessage? OfNode(NodeProto p) => KeepWithout(p, new[] { Aside(p.Attribute) }, r =>
    {
        r.Input.Clear(); r.Output.Clear(); r.ClearName(); r.ClearOpType(); r.ClearDomain(); r.ClearDocString();
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

    /// <summary>A deep copy of a residue (for <see cref="Ir.Model.Clone"/>); null stays null.</summary>
    public static IMessage? Clone(IMessage? residue) => residue switch
    {
        null => null,
        ModelProto p => p.Clone(),
        GraphProto p => p.Clone(),
        NodeProto p => p.Clone(),
        TensorProto p => p.Clone(),
        ValueInfoProto p => p.Clone(),
        AttributeProto p => p.Clone(),
        _ => throw new ArgumentException($"no residue of type {residue.GetType().Name}", nameof(residue)),
    };

    /// <summary>Merges a residue back into a message being written.</summary>
    public static void MergeInto<T>(T target, IMessage? residue) where T : IMessage<T>
    {
        if (residue is T r) target.MergeFrom(r);
    }

    /// <summary>Empties <paramref name="field"/> and returns what puts its items back.</summary>
    private static Action Aside<TItem>(Google.Protobuf.Collections.RepeatedField<TItem> field)
    {
        var items = field.ToArray();
        field.Clear();
        return () => field.AddRange(items);
    }

    private static IMessage? KeepWithout<T>(T p, Action[] restore, Action<T> clearModelled) where T : IMessage<T>, IDeepCloneable<T>
    {
        try { return Keep(p, clearModelled); }
        finally { foreach (var r in restore) r(); }
    }

    private static IMessage? Keep<T>(T p, Action<T> clearModelled) where T : IMessage<T>, IDeepCloneable<T>
    {
        var r = p.Clone();
        clearModelled(r);
        return r.CalculateSize() == 0 ? null : r;
    }
}
