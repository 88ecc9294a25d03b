using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Shrink.Data;

namespace Shrink.Runtime;

/// <summary>Conversions between NumPy arrays (.npy) and <see cref="HostTensor"/>s, element type preserved.</summary>
public static class HostTensorNpy
{
    /// <summary>A host tensor holding the array's elements in their own type.</summary>
    public static HostTensor FromNpy(string name, NpyArray a)
    {
        Array data = a.DType switch
        {
            NpyDType.Float32 => Cast<float>(a.Data),
            NpyDType.Float64 => Cast<double>(a.Data),
            NpyDType.Float16 => Cast<Float16>(a.Data),
            NpyDType.Int64 => Cast<long>(a.Data),
            NpyDType.Int32 => Cast<int>(a.Data),
            NpyDType.Int8 => Cast<sbyte>(a.Data),
            NpyDType.UInt8 => (byte[])a.Data.Clone(),
            NpyDType.Bool => a.Data.Select(b => b != 0).ToArray(),
            _ => throw new DataException($"input '{name}': .npy type {a.Descr} is not supported"),
        };
        return new HostTensor(name, data, a.Shape);
    }

    /// <summary>The tensor as a NumPy array.</summary>
    public static NpyArray ToNpy(HostTensor t) => t.Data switch
    {
        float[] d => new NpyArray(NpyDType.Float32, t.Shape, Bytes(d)),
        double[] d => new NpyArray(NpyDType.Float64, t.Shape, Bytes(d)),
        Float16[] d => new NpyArray(NpyDType.Float16, t.Shape, Bytes(d)),
        long[] d => new NpyArray(NpyDType.Int64, t.Shape, Bytes(d)),
        int[] d => new NpyArray(NpyDType.Int32, t.Shape, Bytes(d)),
        sbyte[] d => new NpyArray(NpyDType.Int8, t.Shape, Bytes(d)),
        byte[] d => new NpyArray(NpyDType.UInt8, t.Shape, (byte[])d.Clone()),
        bool[] d => new NpyArray(NpyDType.Bool, t.Shape, d.Select(b => (byte)(b ? 1 : 0)).ToArray()),
        _ => throw new DataException($"output '{t.Name}' has a type .npy cannot hold here"),
    };

    private static T[] Cast<T>(byte[] bytes) where T : struct => MemoryMarshal.Cast<byte, T>(bytes).ToArray();
    private static byte[] Bytes<T>(T[] values) where T : struct => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
