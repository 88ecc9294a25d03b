using Shrink.Ir;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Execution;

/// <summary>
/// QuantizeLinear and DequantizeLinear with per-tensor constant parameters, emulated in float for
/// quantization-aware training: q = clamp(round(x/s) + z, qmin, qmax) with a straight-through
/// estimator (the rounding passes the gradient unchanged, the clamp stops it outside the range), and
/// x = (q − z)·s. Rounding is half to even, as in ONNX Runtime. Nodes sharing a scale initializer share
/// one <see cref="ActivationQuantizer"/>, whose parameters an observer may move during training.
/// </summary>
internal static partial class Kernels
{
    private static void RegisterQuantize()
    {
        Add("QuantizeLinear", ctx =>
        {
            var quantizer = ctx.Executor.QuantizerFor(ctx);
            if (quantizer.Observer is null) quantizer.Observer = ctx.Node;
            var observes = quantizer.Observer == ctx.Node;
            var executor = ctx.Executor;
            var one = ctx.Scalar(1L);
            var minusOne = ctx.Scalar(-1L);
            var min = ctx.Scalar(quantizer.QMin);
            var max = ctx.Scalar(quantizer.QMax);
            int x = ctx.In(0), y = ctx.Out(0);
            return s =>
            {
                if (observes && executor.Training && quantizer.Observing) quantizer.Update(s[x]!);
                var v = s[x]!.div(quantizer.Scale);
                var rounded = v.add(v.round().add(v, minusOne).detach(), one);
                s[y] = rounded.add(quantizer.ZeroPoint, one).clamp(min, max);
            };
        });
        Add("DequantizeLinear", ctx =>
        {
            var quantizer = ctx.Executor.QuantizerFor(ctx);
            var minusOne = ctx.Scalar(-1L);
            int q = ctx.In(0), y = ctx.Out(0);
            return s => s[y] = s[q]!.to_type(ScalarType.Float32).add(quantizer.ZeroPoint, minusOne).mul(quantizer.Scale);
        });
    }
}
