using Shrink.Ir;

namespace Shrink.Passes.Quantization;

/// <summary>
/// Symmetric weight quantization to integer levels stored in int8, per channel along an axis or per
/// tensor: 8 bits (levels ±127, scale max|w|/127; or, with reduce range, 7 bits: ±64, max|w|/64, as
/// ONNX Runtime's quantizer's <c>reduce_range</c>; see <see cref="IntegerKernels"/>), 4 bits (±7, max|w|/7), ternary (TWN, Li et al.
/// 2016: threshold Δ = 0.7·mean|w|, levels −1, 0, +1 with scale α = mean of the |w| above Δ) and binary
/// (levels ±1 with scale α = mean|w|, as in XNOR-Net / BWN). The levels are stored in int8 (ONNX
/// Runtime runs its int8 kernels on them; the size statistics count the packed bits) or, below 8 bits,
/// packed two per byte as ONNX INT4 (DequantizeLinear from opset 21).
/// </summary>
public static class WeightQuantizer
{
    /// <summary>Bit widths accepted: 8, 4, 2 (ternary), 1 (binary).</summary>
    public static readonly int[] Widths = { 8, 4, 2, 1 };

    /// <summary>The largest level of 8-bit weights with reduce range: 2·255·64 fits a saturating int16.</summary>
    public const int ReducedLimit = 64;

    /// <summary>The largest level of a width: 127 for 8 bits (<see cref="ReducedLimit"/> with <paramref name="reduceRange"/>), 7 for 4 bits, 1 for ternary and binary.</summary>
    public static int Limit(int bits, bool reduceRange = false) => bits switch
    {
        1 or 2 => 1,
        8 when reduceRange => ReducedLimit,
        _ => (1 << (bits - 1)) - 1,
    };

    public static string Describe(int bits) => bits switch { 2 => "ternary", 1 => "binary", _ => $"int{bits}" };

    /// <summary>
    /// Levels and scales of <paramref name="values"/>: one scale per index of <paramref name="axis"/>
    /// (per channel), one for the tensor, or — with <paramref name="blockSize"/> &gt; 0 — one per block of
    /// that many consecutive elements along <paramref name="axis"/> at every position of the other axes
    /// (ONNX's blocked quantization: the scales have the weight's shape with that axis divided by the
    /// block size, rounded up). <paramref name="reduceRange"/>: 8-bit levels in ±<see cref="ReducedLimit"/>.
    /// </summary>
    public static (sbyte[] Levels, float[] Scales) Quantize(float[] values, long[] dims, int axis, bool perChannel, int bits, int blockSize = 0,
        bool reduceRange = false)
    {
        if (!Widths.Contains(bits)) throw new OptionsException($"weight bit width {bits} is not one of 8, 4, 2 (ternary), 1 (binary)");
        long inner = 1;
        for (var i = axis + 1; i < dims.Length; i++) inner *= dims[i];
        var channels = (int)dims[axis];
        var blocks = blockSize > 0 ? (channels + blockSize - 1) / blockSize : 0;
        var groups = blockSize > 0 ? checked((int)(values.LongLength / channels * blocks)) : perChannel ? channels : 1;
        int Group(long i) => blockSize > 0
            ? (int)((i / (inner * channels) * blocks + i / inner % channels / blockSize) * inner + i % inner)
            : perChannel ? (int)(i / inner % channels) : 0;

        var maxAbs = new double[groups];
        var sumAbs = new double[groups];
        var count = new long[groups];
        for (long i = 0; i < values.LongLength; i++)
        {
            var g = Group(i);
            var a = Math.Abs((double)values[i]);
            maxAbs[g] = Math.Max(maxAbs[g], a);
            sumAbs[g] += a;
            count[g]++;
        }
        var scales = new float[groups];
        var thresholds = new double[groups];
        if (bits == 2)
        {
            for (var g = 0; g < groups; g++) thresholds[g] = 0.7 * sumAbs[g] / Math.Max(1, count[g]);
            var above = new double[groups];
            var n = new long[groups];
            for (long i = 0; i < values.LongLength; i++)
            {
                var g = Group(i);
                if (Math.Abs(values[i]) > thresholds[g])
                {
                    above[g] += Math.Abs(values[i]);
                    n[g]++;
                }
            }
            for (var g = 0; g < groups; g++) scales[g] = n[g] > 0 ? (float)(above[g] / n[g]) : 1f;
        }
        else
        {
            var levels = Limit(bits, reduceRange);
            for (var g = 0; g < groups; g++)
            {
                var s = bits == 1 ? sumAbs[g] / Math.Max(1, count[g]) : maxAbs[g] / levels;
                scales[g] = s > 0 ? (float)s : 1f;
            }
        }
        var q = new sbyte[values.LongLength];
        var limit = Limit(bits, reduceRange);
        for (long i = 0; i < values.LongLength; i++)
        {
            var g = Group(i);
            q[i] = bits switch
            {
                1 => maxAbs[g] == 0 ? (sbyte)0 : values[i] < 0 ? (sbyte)-1 : (sbyte)1, // an all-zero (pruned) channel stays zero
                2 => Math.Abs(values[i]) > thresholds[g] ? (sbyte)Math.Sign(values[i]) : (sbyte)0,
                _ => (sbyte)Math.Clamp(Math.Round(values[i] / scales[g]), -limit, limit),
            };
        }
        return (q, scales);
    }

    /// <summary>
    /// Quantizes <paramref name="values"/> (shape <paramref name="dims"/>, channels on <paramref name="axis"/>)
    /// and adds the levels (int8, or INT4 when <paramref name="storage"/> says so and bits ≤ 4), the scales
    /// and the (zero) zero points as initializers named after <paramref name="name"/>: one scale per
    /// channel, or one for the tensor.
    /// </summary>
    public static (Value Levels, Value Scale, Value ZeroPoint, float[] Scales) AddQuantized(Graph graph, string name, float[] values, long[] dims,
        int axis, bool perChannel, int bits, DataType storage = DataType.Int8, int blockSize = 0, bool reduceRange = false)
    {
        var (levels, scales) = Quantize(values, dims, axis, perChannel, bits, blockSize, reduceRange);
        var scaleDims = blockSize > 0 ? dims.Select((d, i) => i == axis ? (d + blockSize - 1) / blockSize : d).ToArray()
            : perChannel ? new[] { dims[axis] } : Array.Empty<long>();
        var type = storage == DataType.Int4 && bits <= 4 ? DataType.Int4 : DataType.Int8;
        byte[] Store(sbyte[] v) => type == DataType.Int4 ? PackInt4(v) : (byte[])(Array)v;
        return (graph.AddInitializer(new Tensor(name + "_quantized", type, dims, Store(levels))),
            graph.AddInitializer(Tensor.FromFloats(name + "_scale", scaleDims, scales)),
            graph.AddInitializer(new Tensor(name + "_zero_point", type, scaleDims, Store(new sbyte[scales.Length]))),
            scales);
    }

    /// <summary>ONNX INT4 layout: two values per byte, the first in the low nibble (two's complement).</summary>
    public static byte[] PackInt4(sbyte[] values)
    {
        var packed = new byte[(values.Length + 1) / 2];
        for (var i = 0; i < values.Length; i++)
        {
            if (values[i] is < -8 or > 7) throw new ArgumentOutOfRangeException(nameof(values), $"{values[i]} does not fit int4");
            packed[i / 2] |= (byte)((values[i] & 0xF) << (4 * (i % 2)));
        }
        return packed;
    }
}
