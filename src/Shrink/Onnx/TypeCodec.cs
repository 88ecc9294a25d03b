using Google.Protobuf;
using Shrink.Ir;
using Shrink.Onnx.Proto;

namespace Shrink.Onnx;

/// <summary>Converts between <see cref="ValueInfoProto"/> and a <see cref="Value"/>'s type and shape.</summary>
internal static class TypeCodec
{
    /// <summary>A new value carrying the type in <paramref name="vi"/>.</summary>
    public static Value ToValue(ValueInfoProto vi) => Apply(new Value(vi.Name), vi);

    /// <summary>Sets <paramref name="v"/>'s type from <paramref name="vi"/> and keeps the rest of the entry as residue.</summary>
    public static Value Apply(Value v, ValueInfoProto vi)
    {
        var type = vi.Type;
        if (type?.TensorType is { } tt)
        {
            v.ElementType = tt.HasElemType ? (DataType)tt.ElemType : DataType.Undefined;
            v.Shape = tt.Shape is null ? null : new Shape(tt.Shape.Dim.Select(ToDim));
        }
        else if (type is not null && type.ValueCase != TypeProto.ValueOneofCase.None)
        {
            v.OpaqueType = type.ToByteArray();
        }
        v.ValueInfoResidue = Residues.OfValueInfo(vi);
        return v;
    }

    /// <summary>The value_info entry for <paramref name="v"/> (its residue merged back in).</summary>
    public static ValueInfoProto ToProto(Value v)
    {
        var vi = new ValueInfoProto { Name = v.Name };
        if (v.OpaqueType is not null)
            vi.Type = TypeProto.Parser.ParseFrom(v.OpaqueType);
        else if (v.ElementType != DataType.Undefined || v.Shape is not null)
            vi.Type = new TypeProto { TensorType = ToTensorType(v) };
        if (v.ValueInfoResidue is ValueInfoProto r) vi.MergeFrom(r);
        return vi;
    }

    private static TypeProto.Types.Tensor ToTensorType(Value v)
    {
        var tt = new TypeProto.Types.Tensor();
        if (v.ElementType != DataType.Undefined) tt.ElemType = (int)v.ElementType;
        if (v.Shape is not null)
        {
            tt.Shape = new TensorShapeProto();
            tt.Shape.Dim.AddRange(v.Shape.Dims.Select(ToProto));
        }
        return tt;
    }

    private static Dim ToDim(TensorShapeProto.Types.Dimension d) => d.ValueCase switch
    {
        TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => new Dim(d.DimValue, null, d.HasDenotation ? d.Denotation : null),
        TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => new Dim(null, d.DimParam, d.HasDenotation ? d.Denotation : null),
        _ => new Dim(null, null, d.HasDenotation ? d.Denotation : null),
    };

    private static TensorShapeProto.Types.Dimension ToProto(Dim d)
    {
        var p = new TensorShapeProto.Types.Dimension();
        if (d.Value is { } n) p.DimValue = n;
        else if (d.Param is { } s) p.DimParam = s;
        if (d.Denotation is not null) p.Denotation = d.Denotation;
        return p;
    }
}
