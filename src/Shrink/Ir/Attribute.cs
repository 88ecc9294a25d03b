using System.Text;

namespace Shrink.Ir;

/// <summary>Attribute kinds, with the codes of ONNX's <c>AttributeProto.AttributeType</c>.</summary>
public enum AttributeKind
{
    Undefined = 0, Float = 1, Int = 2, String = 3, Tensor = 4, Graph = 5, Floats = 6, Ints = 7,
    Strings = 8, Tensors = 9, Graphs = 10, SparseTensor = 11, SparseTensors = 12, TypeProto = 13, TypeProtos = 14,
}

/// <summary>
/// A node attribute. <see cref="Value"/> holds, by kind: float, long, byte[] (string), <see cref="Tensor"/>,
/// <see cref="Ir.Graph"/>, float[], long[], byte[][], Tensor[], Graph[]; sparse tensors and type protos
/// are kept as their serialized bytes (byte[] or byte[][]).
/// </summary>
public sealed class Attribute
{
    public Attribute(string name, AttributeKind kind, object? value)
    {
        Name = name;
        Kind = kind;
        Value = value;
    }

    public string Name { get; }
    public AttributeKind Kind { get; }
    public object? Value { get; set; }
    public string? DocString { get; set; }

    /// <summary>Inside a function body: the name of the function attribute this one refers to.</summary>
    public string? RefAttrName { get; set; }

    /// <summary>True when the file gave no type (very old files); the type is then not written back either.</summary>
    internal bool TypeOmitted { get; set; }

    internal Google.Protobuf.IMessage? Residue { get; set; }

    public static Attribute Int(string name, long v) => new(name, AttributeKind.Int, v);
    public static Attribute Float(string name, float v) => new(name, AttributeKind.Float, v);
    public static Attribute String(string name, string v) => new(name, AttributeKind.String, Encoding.UTF8.GetBytes(v));
    public static Attribute Ints(string name, params long[] v) => new(name, AttributeKind.Ints, v);
    public static Attribute Floats(string name, params float[] v) => new(name, AttributeKind.Floats, v);
    public static Attribute FromTensor(string name, Tensor v) => new(name, AttributeKind.Tensor, v);

    /// <summary>The string value decoded as UTF-8.</summary>
    public string AsString() => Encoding.UTF8.GetString((byte[])Value!);

    public override string ToString() => Kind switch
    {
        AttributeKind.String => $"{Name}=\"{AsString()}\"",
        AttributeKind.Ints => $"{Name}=[{string.Join(",", (long[])Value!)}]",
        AttributeKind.Floats => $"{Name}=[{string.Join(",", (float[])Value!)}]",
        _ => $"{Name}={Value}",
    };
}
