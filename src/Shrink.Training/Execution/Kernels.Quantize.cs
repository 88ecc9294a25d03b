using Shrink.Ir;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Execution;

/// <summary>
/// QuantizeLinear and DequantizeLinear with per-tensor constant parameters, emulated in float for
/// quantization-aware training: q = clamp(round(x/s) + z, qmin, qmax) with a straight-through
/// estimator (the rounding passes the gradient unchanged, the clamp stops it outside the range), and
/// x = (q − z)·s. Rounding is half to even, as in ONNX Runtime.
/// </summary>
internal static partial class Kernels
{
    private static void RegisterQuantize()
    {
        Add("QuantizeLinear", ctx =>
        {
            var (scale, zero, min, max) = QuantParams(ctx);
            var one = ctx.Scalar(1L);
            var minusOne = ctx.Scalar(-1L);
            int x = ctx.In(0), y = ctx.Out(0);
            return s =>
            {
                var v = s[x]!.div(scale);
                var rounded = v.add(v.round().add(v, minusOne).detach(), one);
                s[y] = rounded.add(zero, one).clamp(min, max);
            };
        });
        Add("DequantizeLinear", ctx =>
        {
            var (scale, zero, _, _) = QuantParams(ctx);
            var minusOne = ctx.Scalar(-1L);
            int q = ctx.In(0), y = ctx.Out(0);
            return s => s[y] = s[q]!.to_type(ScalarType.Float32).add(zero, minusOne).mul(scale);
        });
    }

    private static (Scalar Scale, Scalar Zero, Scalar Min, Scalar Max) QuantParams(KernelContext ctx)
    {
        if (ctx.Constant(1) is not { ElementCount: 1 } s || !s.DataType.IsFloat())
            throw ctx.Unsupported("a scale that is not one constant (per-axis or computed scales)");
        var z = ctx.Has(2) ? ctx.Constant(2) : null;
        if (ctx.Has(2) && z is not { ElementCount: 1 }) throw ctx.Unsupported("a zero point that is not one constant");
        var type = z?.DataType ?? DataType.UInt8;
        var (min, max) = type switch
        {
            DataType.UInt8 => (0L, 255L),
            DataType.Int8 => (-128L, 127L),
            _ => throw ctx.Unsupported($"{type.ShortName()} quantization (uint8 and int8 run)"),
        };
        return (ctx.Scalar(s.ToDoubles()[0]), ctx.Scalar(z?.ToInt64s()[0] ?? 0L), ctx.Scalar(min), ctx.Scalar(max));
    }
}
