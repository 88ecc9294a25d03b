using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Shrink.Runtime;

/// <summary>Converts between <see cref="HostTensor"/> arrays and ONNX Runtime's <see cref="OrtValue"/>.</summary>
internal static class OrtValues
{
    public static OrtValue Create(HostTensor t) => t.Data switch
    {
        float[] a => OrtValue.CreateTensorValueFromMemory(a, t.Shape),
        double[] a => OrtValue.CreateTensorValueFromMemory(a, t.Shape),
        long[] a => OrtValue.CreateTensorValueFromMemory(a, t.Shape),
        int[] a => OrtValue.CreateTensorValueFromMemory(a, t.Shape),
        byte[] a => OrtValue.CreateTensorValueFromMemory(a, t.Shape),
        sbyte[] a => OrtValue.CreateTensorValueFromMemory(a, t.Shape),
        bool[] a => OrtValue.CreateTensorValueFromMemory(a, t.Shape),
        Float16[] a => OrtValue.CreateTensorValueFromMemory(a, t.Shape),
        _ => throw new DataException($"input '{t.Name}': element type {t.Data.GetType().GetElementType()?.Name} is not supported"),
    };

    public static HostTensor ToHost(string name, OrtValue v)
    {
        var info = v.GetTensorTypeAndShape();
        var shape = info.Shape;
        Array data = info.ElementDataType switch
        {
            TensorElementType.Float => v.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Double => v.GetTensorDataAsSpan<double>().ToArray(),
            TensorElementType.Int64 => v.GetTensorDataAsSpan<long>().ToArray(),
            TensorElementType.Int32 => v.GetTensorDataAsSpan<int>().ToArray(),
            TensorElementType.UInt8 => v.GetTensorDataAsSpan<byte>().ToArray(),
            TensorElementType.Int8 => v.GetTensorDataAsSpan<sbyte>().ToArray(),
            TensorElementType.Bool => v.GetTensorDataAsSpan<bool>().ToArray(),
            TensorElementType.Float16 => v.GetTensorDataAsSpan<Float16>().ToArray(),
            var other => throw new RuntimeFailureException($"output '{name}' has element type {other}, which Shrink cannot return"),
        };
        return new HostTensor(name, data, shape);
    }
}
