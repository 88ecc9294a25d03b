using Shrink.Passes.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Quantization;

/// <summary>
/// The TorchSharp implementation of <see cref="WeightScheme"/> (what quantization-aware training trains on),
/// step for step the definition the host implementation (<see cref="WeightQuantizer"/>, what the export writes)
/// follows: the tensor seen as the 4-D group view of <see cref="WeightGroups"/> (block-wise: the axis padded
/// with zeros, which change no maximum or sum, and counted out), statistics in float64, scales rounded to
/// float32, levels from the float32 quotient rounded half to even (torch.round) and clamped, and the weight
/// fl32(level · scale). Callers run it under their own dispose scope.
/// </summary>
public static class TorchWeightQuantizer
{
    /// <summary>The weights <paramref name="w"/> becomes: fl32(level · scale), in <paramref name="w"/>'s shape.</summary>
    public static Tensor FakeQuantize(Tensor w, WeightScheme scheme)
    {
        var groups = scheme.Validate().Groups(w.shape);
        var (levels, scales) = Quantize(w, scheme);
        return Unview(levels.to_type(ScalarType.Float32).mul(scales), w.shape, groups);
    }

    /// <summary>
    /// Levels (int8) and scales (float32) of <paramref name="w"/>, both in the 4-D group view (the scales with the
    /// reduced axes kept as 1); the scales flattened are the host's, in the same order.
    /// </summary>
    public static (Tensor Levels, Tensor Scales) Quantize(Tensor w, WeightScheme scheme)
    {
        var groups = scheme.Validate().Groups(w.shape);
        var x = View(w.to_type(ScalarType.Float32), groups);
        var magnitude = x.to_type(ScalarType.Float64).abs();
        var reduced = groups.ReducedAxes;
        var count = View(torch.ones_like(w, ScalarType.Float64), groups).sum(reduced, keepdim: true);
        var sum = magnitude.sum(reduced, keepdim: true);
        var (levels, scales) = scheme.Bits switch
        {
            1 => Binary(x, magnitude.amax(reduced, keepdim: true), sum, count),
            2 => Ternary(x, magnitude, sum, count, reduced),
            _ => Integer(x, magnitude.amax(reduced, keepdim: true), scheme.Limit),
        };
        return (levels.to_type(ScalarType.Int8), scales); // through int8: a level −0.0 becomes 0, as stored
    }

    /// <summary>scale = fl32(m / L) (1 when not positive); level = clamp(round(fl32(w / scale)), −L, L).</summary>
    private static (Tensor, Tensor) Integer(Tensor x, Tensor maxAbs, int limit)
    {
        using var l = ((double)limit).ToScalar();
        using var minusL = ((double)-limit).ToScalar();
        var scales = Float32Where(maxAbs.div(l), maxAbs);
        return (x.div(scales).round().clamp(minusL, l), scales);
    }

    /// <summary>scale = fl32(S / max(1, n)) (1 when 0); level 0 in an all-zero group, else −1 where w &lt; 0 and +1 elsewhere.</summary>
    private static (Tensor, Tensor) Binary(Tensor x, Tensor maxAbs, Tensor sum, Tensor count)
    {
        using var zero = 0.0.ToScalar();
        using var one = 1.0.ToScalar();
        using var minusOne = (-1.0).ToScalar();
        var mean = sum.div(count.clamp_min(one));
        var scales = Float32Where(mean, mean);
        var signs = torch.where(x.lt(zero), torch.full_like(x, minusOne), torch.ones_like(x));
        return (torch.where(maxAbs.eq(zero), torch.zeros_like(x), signs), scales);
    }

    /// <summary>Δ = (0.7·S) / max(1, n); level = sign(w) where |w| &gt; Δ, else 0; scale = fl32(mean of the |w| above Δ) (1 when none).</summary>
    private static (Tensor, Tensor) Ternary(Tensor x, Tensor magnitude, Tensor sum, Tensor count, long[] reduced)
    {
        using var one = 1.0.ToScalar();
        using var share = 0.7.ToScalar();
        var delta = sum.mul(share).div(count.clamp_min(one));
        var mask = magnitude.gt(delta).to_type(ScalarType.Float64);
        var above = magnitude.mul(mask).sum(reduced, keepdim: true);
        var n = mask.sum(reduced, keepdim: true);
        var scales = Float32Where(above.div(n.clamp_min(one)), n);
        return (x.sign().mul(mask.to_type(ScalarType.Float32)), scales);
    }

    /// <summary>fl32(<paramref name="value"/>) where <paramref name="positive"/> &gt; 0, else 1.</summary>
    private static Tensor Float32Where(Tensor value, Tensor positive)
    {
        using var zero = 0.0.ToScalar();
        return torch.where(positive.gt(zero).logical_and(value.gt(zero)), value, torch.ones_like(value)).to_type(ScalarType.Float32);
    }

    /// <summary>The 4-D group view [Outer, Groups, Length, Inner]; block-wise, the axis padded with zeros to Groups · Length.</summary>
    private static Tensor View(Tensor w, WeightGroups g)
    {
        if (!g.Blocked) return w.reshape(g.Outer, g.Groups, g.Length, g.Inner);
        var r = w.reshape(g.Outer, g.Channels, g.Inner);
        var pad = g.Groups * g.Length - g.Channels;
        if (pad > 0) r = torch.cat(new[] { r, torch.zeros(new[] { g.Outer, pad, g.Inner }, r.dtype) }, 1);
        return r.reshape(g.Outer, g.Groups, g.Length, g.Inner);
    }

    private static Tensor Unview(Tensor v, long[] shape, WeightGroups g) =>
        g.Blocked ? v.reshape(g.Outer, g.Groups * g.Length, g.Inner).narrow(1, 0, g.Channels).reshape(shape) : v.reshape(shape);
}
