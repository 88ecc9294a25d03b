using System.Runtime.InteropServices;
using Shrink.Ir;

namespace Shrink.Data.Sources;

/// <summary>NumPy element types as host arrays: a typed array per <see cref="NpyDType"/>, its bytes, its ONNX type; and labels from an integer array.</summary>
internal static class NpyArrays
{
    /// <summary>A zeroed array of <paramref name="count"/> elements of the .NET type of <paramref name="type"/>.</summary>
    public static Array New(NpyDType type, int count) => type switch
    {
        NpyDType.Float32 => new float[count],
        NpyDType.Float64 => new double[count],
        NpyDType.Float16 => new Half[count],
        NpyDType.Int64 => new long[count],
        NpyDType.Int32 => new int[count],
        NpyDType.Int8 => new sbyte[count],
        NpyDType.UInt8 => new byte[count],
        NpyDType.Bool => new bool[count],
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown NpyDType"),
    };

    /// <summary>The bytes of a typed array made by <see cref="New"/> (little-endian, as numpy stores them).</summary>
    public static Span<byte> Bytes(Array array) => array switch
    {
        float[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        double[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        Half[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        long[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        int[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        sbyte[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        byte[] a => a.AsSpan(),
        bool[] a => MemoryMarshal.AsBytes(a.AsSpan()),
        _ => throw new ArgumentException($"not an array of a NumPy element type: {array.GetType().Name}", nameof(array)),
    };

    /// <summary>The ONNX element type of <paramref name="type"/>.</summary>
    public static DataType ElementType(NpyDType type) => InMemorySource.ElementTypeOf(New(type, 0));

    /// <summary>The elements of <paramref name="array"/> as a typed host array.</summary>
    public static Array ToHost(NpyArray array)
    {
        var host = New(array.DType, checked((int)array.Count));
        array.Data.CopyTo(Bytes(host));
        return host;
    }

    /// <summary>
    /// Class labels from <paramref name="array"/>: one integer per sample (<paramref name="count"/>), each in [0, classes),
    /// classes being <paramref name="classCount"/> or else the largest label plus one.
    /// </summary>
    /// <exception cref="DataException">Not one integer per sample, or a label out of range (the sample named).</exception>
    public static (int[] Labels, int Classes) Labels(NpyArray array, long count, int? classCount, string name)
    {
        if (array.Shape.Length != 1 || array.Shape[0] != count)
            throw new DataException($"{name}: labels of shape ({string.Join(", ", array.Shape)}) for {count} samples; give one class index per sample, shape ({count},)");
        if (array.DType is NpyDType.Float32 or NpyDType.Float64 or NpyDType.Float16 or NpyDType.Bool)
            throw new DataException($"{name}: labels are {array.Descr}; give integer class indices (int64 or int32), e.g. y.astype(np.int64)");
        var values = array.ToInt64();
        var labels = new int[values.Length];
        for (var i = 0; i < values.Length; i++)
            labels[i] = values[i] is >= 0 and <= int.MaxValue - 1 ? (int)values[i]
                : throw new DataException($"{name}: label {values[i]} of sample {i} is out of range; class indices run from 0 to the number of classes less one");
        var classes = classCount ?? (labels.Length == 0 ? 1 : labels.Max() + 1);
        DataChecks.Labels(labels, classes, count, name);
        return (labels, classes);
    }
}
