using Shrink.Ir;
using Shrink.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Execution;

/// <summary>Conversions between IR tensors, host tensors and TorchSharp tensors.</summary>
public static class TorchTensors
{
    /// <summary>The TorchSharp element type of an ONNX element type, or null when libtorch has none.</summary>
    public static ScalarType? ScalarTypeOf(DataType t) => t switch
    {
        DataType.Float => ScalarType.Float32,
        DataType.Double => ScalarType.Float64,
        DataType.Float16 => ScalarType.Float16,
        DataType.BFloat16 => ScalarType.BFloat16,
        DataType.Int64 => ScalarType.Int64,
        DataType.Int32 => ScalarType.Int32,
        DataType.Int16 => ScalarType.Int16,
        DataType.Int8 => ScalarType.Int8,
        DataType.UInt8 => ScalarType.Byte,
        DataType.Bool => ScalarType.Bool,
        _ => null,
    };

    /// <summary>The ONNX element type of a TorchSharp element type.</summary>
    public static DataType DataTypeOf(ScalarType t) => t switch
    {
        ScalarType.Float32 => DataType.Float,
        ScalarType.Float64 => DataType.Double,
        ScalarType.Float16 => DataType.Float16,
        ScalarType.BFloat16 => DataType.BFloat16,
        ScalarType.Int64 => DataType.Int64,
        ScalarType.Int32 => DataType.Int32,
        ScalarType.Int16 => DataType.Int16,
        ScalarType.Int8 => DataType.Int8,
        ScalarType.Byte => DataType.UInt8,
        ScalarType.Bool => DataType.Bool,
        _ => throw new RuntimeFailureException($"libtorch type {t} has no ONNX equivalent here"),
    };

    /// <summary>A new TorchSharp tensor holding a copy of an IR tensor's data.</summary>
    public static Tensor FromIr(Ir.Tensor t)
    {
        var type = ScalarTypeOf(t.DataType)
            ?? throw new RuntimeFailureException($"tensor '{t.Name}' is {t.DataType.ShortName()}, which the training executor cannot hold");
        var result = torch.empty(t.Dims, type);
        if (t.ElementCount > 0) result.bytes = t.RawData;
        return result;
    }

    /// <summary>An IR tensor holding a copy of a TorchSharp tensor's data.</summary>
    public static Ir.Tensor ToIr(string name, Tensor t)
    {
        using var c = t.detach().contiguous();
        var bytes = c.numel() == 0 ? Array.Empty<byte>() : c.bytes.ToArray();
        return new Ir.Tensor(name, DataTypeOf(c.dtype), c.shape.ToArray(), bytes);
    }

    /// <summary>A TorchSharp tensor holding a copy of a host tensor.</summary>
    public static Tensor FromHost(HostTensor h) => h.Data switch
    {
        float[] d => torch.tensor(d, h.Shape),
        double[] d => torch.tensor(d, h.Shape),
        long[] d => torch.tensor(d, h.Shape),
        int[] d => torch.tensor(d, h.Shape),
        byte[] d => torch.tensor(d, h.Shape),
        sbyte[] d => torch.tensor(d, h.Shape),
        bool[] d => torch.tensor(d, h.Shape),
        _ => throw new DataException($"input '{h.Name}' is {h.Data.GetType().GetElementType()?.Name}, which the training executor does not take"),
    };

    /// <summary>A host tensor holding a copy of a TorchSharp tensor.</summary>
    public static HostTensor ToHost(string name, Tensor t)
    {
        using var c = t.detach().contiguous();
        var shape = c.shape.ToArray();
        Array data = c.numel() == 0 ? EmptyOf(c.dtype, name) : c.dtype switch
        {
            ScalarType.Float32 => c.data<float>().ToArray(),
            ScalarType.Float64 => c.data<double>().ToArray(),
            ScalarType.Int64 => c.data<long>().ToArray(),
            ScalarType.Int32 => c.data<int>().ToArray(),
            ScalarType.Byte => c.data<byte>().ToArray(),
            ScalarType.Int8 => c.data<sbyte>().ToArray(),
            ScalarType.Bool => c.data<bool>().ToArray(),
            _ => throw new RuntimeFailureException($"output '{name}' is {c.dtype}, which Shrink cannot write"),
        };
        return new HostTensor(name, data, shape);
    }

    /// <summary>An empty array of the host type of <paramref name="type"/> (TorchSharp cannot read the data of an empty tensor).</summary>
    private static Array EmptyOf(ScalarType type, string name) => type switch
    {
        ScalarType.Float32 => Array.Empty<float>(),
        ScalarType.Float64 => Array.Empty<double>(),
        ScalarType.Int64 => Array.Empty<long>(),
        ScalarType.Int32 => Array.Empty<int>(),
        ScalarType.Byte => Array.Empty<byte>(),
        ScalarType.Int8 => Array.Empty<sbyte>(),
        ScalarType.Bool => Array.Empty<bool>(),
        _ => throw new RuntimeFailureException($"output '{name}' is {type}, which Shrink cannot write"),
    };
}
