using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Execution;

/// <summary>
/// Resize (opset 10 on) and Upsample (opsets 7–9) as ONNX Runtime computes them. Each resized axis becomes
/// a set of taps — for every output position, the input positions it reads and their weights: one tap for
/// nearest, two for linear, four for cubic (Keys' kernel) — applied axis by axis with <c>index_select</c>,
/// so gradients reach the input. The coordinates are computed on the host in float32 with ONNX Runtime's
/// formulas (output size ⌊scale·in⌋, or scale = out/in from sizes; an axis whose scale is 1 is left alone),
/// so nearest picks the same pixels and linear the same weights.
/// </summary>
internal static partial class Kernels
{
    private static void RegisterResize()
    {
        Add("Resize", Resize);
        Add("Upsample", Upsample);
    }

    /// <summary>How a node maps output coordinates onto the input: the mode, the coordinate transformation and its nearest rule.</summary>
    private sealed record Interpolation(string Mode, string Coordinates, string Nearest, float CubicA, bool ExcludeOutside)
    {
        private static readonly string[] CoordinateModes =
            { "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn", "half_pixel_symmetric" };

        private static readonly string[] NearestModes = { "round_prefer_floor", "round_prefer_ceil", "floor", "ceil" };

        /// <summary>The settings of a Resize (<paramref name="resize"/>) or Upsample node; refuses what the executor does not run.</summary>
        public static Interpolation Of(KernelContext ctx, bool resize)
        {
            var mode = ctx.String("mode") ?? "nearest";
            if (mode is not ("nearest" or "linear" or "cubic")) throw ctx.Unsupported($"mode '{mode}'");
            // Before opset 11 (and in Upsample) the only mapping is asymmetric, with the old nearest rule.
            var modern = resize && ctx.Opset >= 11;
            var coordinates = modern ? ctx.String("coordinate_transformation_mode") ?? "half_pixel" : "asymmetric";
            if (!CoordinateModes.Contains(coordinates)) throw ctx.Unsupported($"coordinate_transformation_mode '{coordinates}'");
            var nearest = modern && mode == "nearest" ? ctx.String("nearest_mode") ?? "round_prefer_floor" : "simple";
            if (nearest != "simple" && !NearestModes.Contains(nearest)) throw ctx.Unsupported($"nearest_mode '{nearest}'");
            if (resize && ctx.Opset >= 18 && ctx.Int("antialias", 0) != 0) throw ctx.Unsupported("antialias 1");
            var exclude = ctx.Int("exclude_outside", 0) != 0;
            if (exclude && mode != "cubic") throw ctx.Unsupported($"exclude_outside 1 in mode '{mode}'");
            return new Interpolation(mode, coordinates, nearest, ctx.Float("cubic_coeff_a", -0.75f), exclude);
        }

        /// <summary>The input coordinate of output position <paramref name="x"/> (ONNX Runtime's float arithmetic).</summary>
        public float Original(float x, float scale, float lengthResized, float lengthOriginal) => Coordinates switch
        {
            "asymmetric" => x / scale,
            "pytorch_half_pixel" => lengthResized > 1 ? (x + 0.5f) / scale - 0.5f : 0f,
            "tf_half_pixel_for_nn" => (x + 0.5f) / scale,
            "align_corners" => lengthResized == 1 ? 0f : x * (lengthOriginal - 1) / (lengthResized - 1),
            "half_pixel_symmetric" => Symmetric(x, scale, lengthResized, lengthOriginal),
            _ => (x + 0.5f) / scale - 0.5f,
        };

        private static float Symmetric(float x, float scale, float lengthResized, float lengthOriginal)
        {
            float adjustment = lengthResized / (scale * lengthOriginal), center = lengthOriginal / 2, offset = center * (1 - adjustment);
            return (float)(offset + (x + 0.5) / scale - 0.5);
        }

        /// <summary>
        /// The input pixel nearest to coordinate <paramref name="x"/>, before clamping. The round modes treat a
        /// coordinate within 1e-6 of a half as the tie, as ONNX Runtime does (measured: 1.5 ± 9.5e-7 is a tie,
        /// 1.5 ± 1.2e-6 is not), so that 7 → 4 pixels picks the pixel of the exact 3.5, not of float's 3.4999998.
        /// </summary>
        public long NearestPixel(float x, bool downsampling) => Nearest switch
        {
            "simple" => downsampling ? (long)MathF.Ceiling(x) : (long)x,
            "round_prefer_ceil" => NearTie(x) ? (long)MathF.Ceiling(x) : (long)MathF.Round(x, MidpointRounding.AwayFromZero),
            "floor" => (long)MathF.Floor(x),
            "ceil" => (long)MathF.Ceiling(x),
            _ => NearTie(x) ? (long)MathF.Floor(x) : (long)MathF.Round(x, MidpointRounding.AwayFromZero),
        };

        private static bool NearTie(float x) => MathF.Abs(x - MathF.Floor(x) - 0.5f) <= 1e-6f;
    }

    /// <summary>The input positions (and weights, null for nearest) one resized axis reads: tap k of output j is Index[k][j].</summary>
    private sealed record AxisTaps(long[][] Index, float[][]? Weight);

    private static Kernel Resize(KernelContext ctx)
    {
        var interpolation = Interpolation.Of(ctx, resize: true);
        int scalesInput = ctx.Opset >= 11 ? 2 : 1, sizesInput = ctx.Opset >= 11 ? 3 : -1;
        var axes = ctx.Opset >= 18 ? ctx.Ints("axes") : null;
        var policy = ctx.Opset >= 18 ? ctx.String("keep_aspect_ratio_policy") ?? "stretch" : "stretch";
        if (policy is not ("stretch" or "not_larger" or "not_smaller")) throw ctx.Unsupported($"keep_aspect_ratio_policy '{policy}'");
        var constScales = ctx.Constant(scalesInput)?.ToDoubles().Select(d => (float)d).ToArray();
        int scalesSlot = constScales is null ? ctx.In(scalesInput) : -1;
        var constSizes = sizesInput >= 0 ? ctx.ConstantInts(sizesInput) : null;
        int sizesSlot = sizesInput >= 0 && constSizes is null ? ctx.In(sizesInput) : -1;
        int x = ctx.In(0), y = ctx.Out(0);
        var one = ctx.Scalar(1L);
        return s =>
        {
            var input = s[x]!;
            var scales = constScales ?? (scalesSlot >= 0 ? Floats(s[scalesSlot]!) : null);
            var sizes = constSizes ?? (sizesSlot >= 0 ? Longs(s[sizesSlot]!) : null);
            var (outSizes, outScales) = ResizeGeometry(input.shape, scales, sizes, axes, policy);
            s[y] = ResizeTensor(input, interpolation, outSizes, outScales, one);
        };
    }

    private static Kernel Upsample(KernelContext ctx)
    {
        var interpolation = Interpolation.Of(ctx, resize: false);
        var constScales = ctx.Opset >= 9 ? ctx.Constant(1)?.ToDoubles().Select(d => (float)d).ToArray()
            : ctx.Node.GetFloats("scales") ?? throw ctx.Unsupported("no scales attribute");
        int scalesSlot = constScales is null ? ctx.In(1) : -1;
        int x = ctx.In(0), y = ctx.Out(0);
        var one = ctx.Scalar(1L);
        return s =>
        {
            var input = s[x]!;
            var (outSizes, outScales) = ResizeGeometry(input.shape, constScales ?? Floats(s[scalesSlot]!), null, null, "stretch");
            s[y] = ResizeTensor(input, interpolation, outSizes, outScales, one);
        };
    }

    /// <summary>The values of a small float tensor.</summary>
    private static float[] Floats(Tensor t) => t.to(ScalarType.Float32).data<float>().ToArray();

    /// <summary>
    /// The output sizes and per-axis scales of a resize, as ONNX Runtime derives them: from scales, size ⌊scale·in⌋;
    /// from sizes, scale = out/in, then the keep-aspect-ratio policy (opset 18) over the resized axes.
    /// </summary>
    private static (long[] Sizes, float[] Scales) ResizeGeometry(long[] input, float[]? scales, long[]? sizes, long[]? axes, string policy)
    {
        var rank = input.Length;
        var on = axes is { Length: > 0 } ? axes.Select(a => (int)Axis(a, rank)).ToArray() : Enumerable.Range(0, rank).ToArray();
        var outScales = Enumerable.Repeat(1f, rank).ToArray();
        var outSizes = (long[])input.Clone();
        if (scales is { Length: > 0 })
        {
            if (scales.Length != on.Length) throw new ArgumentException($"Resize has {scales.Length} scales for {on.Length} axes");
            for (var i = 0; i < on.Length; i++) outScales[on[i]] = scales[i];
            for (var d = 0; d < rank; d++) outSizes[d] = (long)(outScales[d] * input[d]);
            return (outSizes, outScales);
        }
        if (sizes is not { Length: > 0 }) throw new ArgumentException("Resize has neither scales nor sizes");
        if (sizes.Length != on.Length) throw new ArgumentException($"Resize has {sizes.Length} sizes for {on.Length} axes");
        for (var i = 0; i < on.Length; i++) outSizes[on[i]] = sizes[i];
        for (var d = 0; d < rank; d++) outScales[d] = input[d] == 0 ? 1f : (float)outSizes[d] / input[d];
        if (policy == "stretch") return (outSizes, outScales);
        var kept = on.Select(d => outScales[d]).ToArray();
        var common = policy == "not_larger" ? kept.Min() : kept.Max();
        foreach (var d in on)
        {
            outScales[d] = common;
            outSizes[d] = (long)MathF.Round(common * input[d], MidpointRounding.AwayFromZero);
        }
        return (outSizes, outScales);
    }

    /// <summary>The input resized to <paramref name="sizes"/>, one axis at a time (an unchanged shape is returned as is, as ONNX Runtime copies it).</summary>
    private static Tensor ResizeTensor(Tensor input, Interpolation m, long[] sizes, float[] scales, Scalar one)
    {
        if (sizes.SequenceEqual(input.shape)) return input;
        if (m.Mode != "nearest" && !input.is_floating_point())
            throw new ArgumentException($"Resize in mode '{m.Mode}' runs on float tensors, not {input.dtype}");
        var t = input;
        for (var axis = 0; axis < sizes.Length; axis++)
        {
            if (scales[axis] == 1f) continue;
            var taps = TapsOf(m, input.shape[axis], sizes[axis], scales[axis]);
            t = ApplyTaps(t, axis, taps, one);
        }
        return t;
    }

    private static AxisTaps TapsOf(Interpolation m, long inSize, long outSize, float scale) => m.Mode switch
    {
        "nearest" => NearestTaps(m, inSize, outSize, scale),
        "linear" => LinearTaps(m, inSize, outSize, scale),
        _ => CubicTaps(m, inSize, outSize, scale),
    };

    private static AxisTaps NearestTaps(Interpolation m, long inSize, long outSize, float scale)
    {
        var index = new long[outSize];
        for (var j = 0; j < outSize; j++)
        {
            var original = m.Original(j, scale, outSize, inSize);
            index[j] = Math.Clamp(m.NearestPixel(original, scale < 1), 0, inSize - 1);
        }
        return new AxisTaps(new[] { index }, null);
    }

    /// <summary>Two taps: the coordinate clamped into the input, its floor and the next pixel, weighted by distance (ONNX Runtime's bilinear setup).</summary>
    private static AxisTaps LinearTaps(Interpolation m, long inSize, long outSize, float scale)
    {
        long[] lo = new long[outSize], hi = new long[outSize];
        float[] wLo = new float[outSize], wHi = new float[outSize];
        for (var j = 0; j < outSize; j++)
        {
            var x = Math.Max(0f, Math.Min(m.Original(j, scale, outSize, inSize), inSize - 1));
            lo[j] = Math.Min((long)x, inSize - 1);
            hi[j] = Math.Min(lo[j] + 1, inSize - 1);
            (wLo[j], wHi[j]) = lo[j] == hi[j] ? (0.5f, 0.5f) : (Math.Abs(x - hi[j]), Math.Abs(x - lo[j]));
        }
        return new AxisTaps(new[] { lo, hi }, new[] { wLo, wHi });
    }

    /// <summary>
    /// Four taps at ⌊x⌋−1 … ⌊x⌋+2 (clamped to the input) with Keys' cubic weights for s = x − ⌊x⌋ and coefficient a;
    /// with exclude_outside, taps outside the input weigh 0 and the rest are renormalised to sum 1.
    /// </summary>
    private static AxisTaps CubicTaps(Interpolation m, long inSize, long outSize, float scale)
    {
        var index = Enumerable.Range(0, 4).Select(_ => new long[outSize]).ToArray();
        var weight = Enumerable.Range(0, 4).Select(_ => new float[outSize]).ToArray();
        float a = m.CubicA;
        for (var j = 0; j < outSize; j++)
        {
            var x = m.Original(j, scale, outSize, inSize);
            var start = (long)MathF.Floor(x);
            var s = Math.Abs(x - start);
            var c = new[]
            {
                ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a,
                ((a + 2) * s - (a + 3)) * s * s + 1,
                ((a + 2) * (1 - s) - (a + 3)) * (1 - s) * (1 - s) + 1,
                ((a * (2 - s) - 5 * a) * (2 - s) + 8 * a) * (2 - s) - 4 * a,
            };
            var sum = 1f;
            if (m.ExcludeOutside)
            {
                for (var k = 0; k < 4; k++) if (start - 1 + k < 0 || start - 1 + k >= inSize) c[k] = 0f;
                sum = c[0] + c[1] + c[2] + c[3];
            }
            for (var k = 0; k < 4; k++)
            {
                index[k][j] = Math.Clamp(start - 1 + k, 0, inSize - 1);
                weight[k][j] = c[k] / sum;
            }
        }
        return new AxisTaps(index, weight);
    }

    /// <summary>Σ_k weight_k · input[index_k] along one axis (the weights broadcast over the other axes).</summary>
    private static Tensor ApplyTaps(Tensor input, int axis, AxisTaps taps, Scalar one)
    {
        var view = Enumerable.Repeat(1L, (int)input.dim()).ToArray();
        view[axis] = taps.Index[0].Length;
        Tensor? sum = null;
        for (var k = 0; k < taps.Index.Length; k++)
        {
            var picked = input.index_select(axis, torch.tensor(taps.Index[k]));
            if (taps.Weight is not null) picked = picked.mul(torch.tensor(taps.Weight[k]).to(input.dtype).reshape(view));
            sum = sum is null ? picked : sum.add(picked, one);
        }
        return sum!;
    }
}
