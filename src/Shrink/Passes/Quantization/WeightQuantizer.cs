using Shrink.Ir;

namespace Shrink.Passes.Quantization;

/// <summary>
/// The host implementation of <see cref="WeightScheme"/> (what the export writes). Symmetric weight
/// quantization to integer levels stored in int8, per channel along an axis, per tensor or block-wise: 8 bits (levels ±127, scale max|w|/127; or, with reduce range, 7 bits: ±64, max|w|/64, as
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
    /// that many consecutive elements along <paramref name="axis"/> (see <see cref="WeightGranularity.BlockWise"/>).
    /// <paramref name="reduceRange"/>: 8-bit levels in ±<see cref="ReducedLimit"/>.
    /// </summary>
    public static (sbyte[] Levels, float[] Scales) Quantize(ReadOnlySpan<float> values, long[] dims, int axis, bool perChannel, int bits, int blockSize = 0,
        bool reduceRange = false) =>
        Quantize(values, dims, new WeightScheme
        {
            Bits = bits, Axis = axis, BlockSize = blockSize, ReduceRange = reduceRange,
            Granularity = blockSize > 0 ? WeightGranularity.BlockWise : perChannel ? WeightGranularity.PerChannel : WeightGranularity.PerTensor,
        });

    /// <summary>Levels and scales of <paramref name="values"/> (shape <paramref name="dims"/>) under <paramref name="scheme"/>, as its definition says.</summary>
    public static (sbyte[] Levels, float[] Scales) Quantize(ReadOnlySpan<float> values, long[] dims, WeightScheme scheme)
    {
        var groups = scheme.Validate().Groups(dims);
        var (maxAbs, sumAbs, count) = Statistics(values, groups);
        var thresholds = new double[groups.Count];
        float[] scales;
        if (scheme.Bits == 2)
        {
            for (var g = 0; g < thresholds.Length; g++) thresholds[g] = 0.7 * sumAbs[g] / Math.Max(1, count[g]);
            scales = TernaryScales(values, groups, thresholds);
        }
        else
        {
            scales = new float[groups.Count];
            for (var g = 0; g < scales.Length; g++)
            {
                var s = scheme.Bits == 1 ? sumAbs[g] / Math.Max(1, count[g]) : maxAbs[g] / scheme.Limit;
                scales[g] = s > 0 ? (float)s : 1f;
            }
        }
        var q = new sbyte[values.Length];
        var limit = scheme.Limit;
        for (var i = 0; i < values.Length; i++)
        {
            var g = groups.Of(i);
            q[i] = scheme.Bits switch
            {
                1 => maxAbs[g] == 0 ? (sbyte)0 : values[i] < 0 ? (sbyte)-1 : (sbyte)1, // an all-zero (pruned) group stays zero
                2 => Math.Abs(values[i]) > thresholds[g] ? (sbyte)Math.Sign(values[i]) : (sbyte)0,
                _ => (sbyte)Math.Clamp(Math.Round(values[i] / scales[g]), -limit, limit), // fl32(w / scale), rounded half to even
            };
        }
        return (q, scales);
    }

    /// <summary>Per group, in float64 and in index order: max|w|, Σ|w| and the number of weights.</summary>
    private static (double[] MaxAbs, double[] SumAbs, long[] Count) Statistics(ReadOnlySpan<float> values, WeightGroups groups)
    {
        var maxAbs = new double[groups.Count];
        var sumAbs = new double[groups.Count];
        var count = new long[groups.Count];
        for (var i = 0; i < values.Length; i++)
        {
            var g = groups.Of(i);
            var a = Math.Abs((double)values[i]);
            maxAbs[g] = Math.Max(maxAbs[g], a);
            sumAbs[g] += a;
            count[g]++;
        }
        return (maxAbs, sumAbs, count);
    }

    /// <summary>TWN's α per group: the mean of the |w| above the group's threshold Δ (1 when none is).</summary>
    private static float[] TernaryScales(ReadOnlySpan<float> values, WeightGroups groups, double[] thresholds)
    {
        var above = new double[groups.Count];
        var n = new long[groups.Count];
        for (var i = 0; i < values.Length; i++)
        {
            var g = groups.Of(i);
            if (Math.Abs(values[i]) > thresholds[g])
            {
                above[g] += Math.Abs(values[i]);
                n[g]++;
            }
        }
        return above.Select((a, g) => n[g] > 0 ? (float)(a / n[g]) : 1f).ToArray();
    }

    /// <summary>
    /// Quantizes <paramref name="values"/> (shape <paramref name="dims"/>) under <paramref name="scheme"/> and adds
    /// the levels (int8, or INT4 when <paramref name="storage"/> says so and bits ≤ 4), the scales and the (zero)
    /// zero points as initializers named after <paramref name="name"/>.
    /// </summary>
    public static (Value Levels, Value Scale, Value ZeroPoint, float[] Scales) AddQuantized(Graph graph, string name, ReadOnlySpan<float> values, long[] dims,
        WeightScheme scheme, DataType storage = DataType.Int8)
    {
        var (levels, scales) = Quantize(values, dims, scheme);
        var scaleDims = scheme.ScaleDims(dims);
        var type = storage == DataType.Int4 && scheme.Bits <= 4 ? DataType.Int4 : DataType.Int8;
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
