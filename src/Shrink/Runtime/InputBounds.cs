using System.Globalization;
using System.Numerics;
using Microsoft.ML.OnnxRuntime;
using Shrink.Text;

namespace Shrink.Runtime;

/// <summary>
/// Bounds on the inputs the runner makes itself (random inputs for benchmarks): each input's size is
/// computed exactly from its shape — batch size and <see cref="RunnerOptions.DimValues"/> multiplied without overflow —
/// and refused above <see cref="MaxInputBytes"/>, or when all inputs together exceed the memory this
/// process may use, before any of them is allocated.
/// </summary>
internal static class InputBounds
{
    /// <summary>The largest single input Shrink allocates: 2 GiB, less the few bytes .NET keeps from the largest array.</summary>
    public static readonly long MaxInputBytes = Array.MaxLength;

    /// <summary>Bytes per element of an input's element type.</summary>
    public static int ElementSize(Type type) =>
        type == typeof(bool) || type == typeof(byte) || type == typeof(sbyte) ? 1
        : type == typeof(Float16) || type == typeof(BFloat16) || type == typeof(short) || type == typeof(ushort) ? 2
        : type == typeof(double) || type == typeof(long) || type == typeof(ulong) ? 8
        : 4;

    /// <summary>
    /// Checks the inputs of <paramref name="shapes"/> (one per spec) made for batch size <paramref name="batch"/>;
    /// throws <see cref="OptionsException"/> naming the batch size, the input and the bytes it would need.
    /// </summary>
    /// <param name="specs">The inputs.</param>
    /// <param name="shapes">Their concrete shapes.</param>
    /// <param name="batch">The batch size the shapes were made for.</param>
    /// <param name="source">The model, for the message.</param>
    /// <param name="available">The memory all inputs together may take (default: what the GC reports available).</param>
    public static void Check(IReadOnlyList<TensorSpec> specs, IReadOnlyList<long[]> shapes, int batch, string source, long? available = null)
    {
        var budget = available ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        BigInteger total = 0;
        for (var i = 0; i < specs.Count; i++)
        {
            var bytes = Bytes(specs[i].ElementType, shapes[i]);
            total += bytes;
            var limit = Math.Min(MaxInputBytes, budget);
            if (bytes > limit || total > budget)
                throw new OptionsException(Refusal(specs[i], shapes[i], batch, source, bytes, total, LimitText(bytes > limit ? limit : budget)));
        }
    }

    private static OptionText Refusal(TensorSpec spec, long[] shape, int batch, string source, BigInteger bytes, BigInteger total, string limit)
    {
        var together = total > bytes ? $" ({Describe(total)} with the inputs before it)" : "";
        var mend = SizedByDims(spec, shape, batch) ? OptionText.Of($"use a smaller batch size or smaller {OnnxRunner.Dims} sizes") : OptionText.Plain("use a smaller batch size");
        var input = $"input '{spec.Name}' of '{source}' would be [{string.Join(",", shape)}] {spec.ElementType.Name}";
        return OptionText.Of($"at batch size {batch}, {input}: {Describe(bytes)}{together}, more than {limit}; {mend}");
    }

    /// <summary>Whether a dynamic axis took its size from <see cref="RunnerOptions.DimValues"/> rather than from the batch size.</summary>
    private static bool SizedByDims(TensorSpec spec, long[] shape, int batch)
        => Enumerable.Range(0, shape.Length).Any(i => spec.Dims[i] < 0 && (i > 0 || shape[i] != batch));

    /// <summary>Bytes of a tensor of <paramref name="shape"/>, exactly.</summary>
    public static BigInteger Bytes(Type elementType, long[] shape) => ElementSize(elementType) * Elements(shape);

    /// <summary>Elements of a tensor of <paramref name="shape"/>, exactly (no product of dimensions wraps around).</summary>
    public static BigInteger Elements(long[] shape)
    {
        BigInteger count = 1;
        foreach (var d in shape)
            count *= d;
        return count;
    }

    private static string LimitText(long limit) => limit == MaxInputBytes
        ? $"the {Units(limit)} Shrink allocates for one input"
        : $"the {Units(limit)} of memory this process may use";

    private static string Describe(BigInteger bytes) => bytes < 1024
        ? $"{bytes} bytes"
        : $"{bytes.ToString("N0", CultureInfo.InvariantCulture)} bytes ({Units(bytes)})";

    /// <summary>Bytes in the largest binary unit they fill, e.g. <c>292.06 GiB</c>.</summary>
    private static string Units(BigInteger bytes)
    {
        var (scale, unit) = bytes >= 1L << 30 ? (1L << 30, "GiB") : bytes >= 1L << 20 ? (1L << 20, "MiB") : (1L << 10, "KiB");
        return ((double)bytes / scale).ToString("0.##", CultureInfo.InvariantCulture) + " " + unit;
    }
}
