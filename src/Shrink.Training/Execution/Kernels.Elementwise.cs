using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Execution;

/// <summary>Elementwise ops and activations; broadcasting is torch's, which is ONNX's multidirectional rule.</summary>
internal static partial class Kernels
{
    private static void RegisterElementwise()
    {
        // add and sub always get an explicit alpha (see KernelContext.Scalar).
        Add("Add", ctx =>
        {
            var one = ctx.Scalar(1L);
            return Binary(ctx, (a, b) => a.add(b, one));
        });
        Add("Sub", ctx =>
        {
            var minusOne = ctx.Scalar(-1L);
            return Binary(ctx, (a, b) => a.add(b, minusOne));
        });
        Add("Mul", ctx => Binary(ctx, (a, b) => a.mul(b)));
        Add("Div", ctx => Binary(ctx, (a, b) => a.is_floating_point() ? a.div(b) : a.div(b, RoundingMode.trunc)));
        Add("Pow", ctx => Binary(ctx, (a, b) => a.pow(b)));
        Add("Equal", ctx => Binary(ctx, (a, b) => a.eq(b)));
        Add("Less", ctx => Binary(ctx, (a, b) => a.lt(b)));
        Add("LessOrEqual", ctx => Binary(ctx, (a, b) => a.le(b)));
        Add("Greater", ctx => Binary(ctx, (a, b) => a.gt(b)));
        Add("GreaterOrEqual", ctx => Binary(ctx, (a, b) => a.ge(b)));
        Add("And", ctx => Binary(ctx, torch.logical_and));
        Add("Or", ctx => Binary(ctx, torch.logical_or));
        Add("Max", ctx => Variadic(ctx, torch.maximum));
        Add("Min", ctx => Variadic(ctx, torch.minimum));
        Add("Sum", ctx =>
        {
            var one = ctx.Scalar(1L);
            return Variadic(ctx, (a, b) => a.add(b, one));
        });
        Add("Mean", ctx =>
        {
            var n = ctx.Scalar((double)ctx.Ins().Length);
            var one = ctx.Scalar(1L);
            var sum = Variadic(ctx, (a, b) => a.add(b, one));
            var y = ctx.Out(0);
            return s => { sum(s); s[y] = s[y]!.div(n); };
        });
        Add("Where", ctx =>
        {
            int c = ctx.In(0), a = ctx.In(1), b = ctx.In(2), y = ctx.Out(0);
            return s => s[y] = torch.where(s[c]!, s[a]!, s[b]!);
        });

        Add("Relu", ctx => Unary(ctx, x => F.relu(x)));
        Add("Sigmoid", ctx => Unary(ctx, torch.sigmoid));
        Add("Tanh", ctx => Unary(ctx, torch.tanh));
        Add("Exp", ctx => Unary(ctx, torch.exp));
        Add("Log", ctx => Unary(ctx, torch.log));
        Add("Sqrt", ctx => Unary(ctx, torch.sqrt));
        Add("Neg", ctx => Unary(ctx, torch.neg));
        Add("Abs", ctx => Unary(ctx, torch.abs));
        Add("Reciprocal", ctx => Unary(ctx, torch.reciprocal));
        Add("Erf", ctx => Unary(ctx, torch.erf));
        Add("Floor", ctx => Unary(ctx, torch.floor));
        Add("Ceil", ctx => Unary(ctx, torch.ceil));
        Add("Sign", ctx => Unary(ctx, torch.sign));
        Add("Not", ctx => Unary(ctx, torch.logical_not));
        Add("Softplus", ctx => Unary(ctx, x => x.softplus()));
        Add("HardSwish", ctx => Unary(ctx, x => x.hardswish()));
        Add("Identity", ctx => Unary(ctx, x => x));
        Add("LeakyRelu", ctx =>
        {
            Scalar alpha = ctx.Scalar(ctx.Float("alpha", 0.01f)), zero = ctx.Scalar(0.0);
            return Unary(ctx, x => torch.where(x.ge(zero), x, x.mul(alpha)));
        });
        Add("Elu", ctx =>
        {
            var alpha = ctx.Float("alpha", 1f);
            return Unary(ctx, x => x.elu(alpha));
        });
        Add("HardSigmoid", ctx =>
        {
            Scalar alpha = ctx.Scalar(ctx.Float("alpha", 0.2f)), beta = ctx.Scalar(ctx.Float("beta", 0.5f)), zero = ctx.Scalar(0.0), one = ctx.Scalar(1.0);
            return Unary(ctx, x => x.mul(alpha).add(beta, one).clamp(zero, one));
        });
        Add("Gelu", ctx =>
        {
            var approximate = ctx.String("approximate") == "tanh" ? TorchSharp.Modules.GELU.Approximate.tanh : TorchSharp.Modules.GELU.Approximate.none;
            return Unary(ctx, x => F.gelu(x, approximate));
        });
        Add("PRelu", ctx =>
        {
            var zero = ctx.Scalar(0.0);
            return Binary(ctx, (x, slope) => torch.where(x.lt(zero), x.mul(slope), x));
        });
        Add("Clip", Clip);
    }

    private static Kernel Unary(KernelContext ctx, Func<Tensor, Tensor> f)
    {
        int x = ctx.In(0), y = ctx.Out(0);
        return s => s[y] = f(s[x]!);
    }

    private static Kernel Binary(KernelContext ctx, Func<Tensor, Tensor, Tensor> f)
    {
        int a = ctx.In(0), b = ctx.In(1), y = ctx.Out(0);
        return s => s[y] = f(s[a]!, s[b]!);
    }

    private static Kernel Variadic(KernelContext ctx, Func<Tensor, Tensor, Tensor> f)
    {
        var inputs = ctx.Ins();
        var y = ctx.Out(0);
        return s =>
        {
            var acc = s[inputs[0]]!;
            for (var i = 1; i < inputs.Length; i++) acc = f(acc, s[inputs[i]]!);
            s[y] = acc;
        };
    }

    private static Kernel Clip(KernelContext ctx)
    {
        int x = ctx.In(0), y = ctx.Out(0);
        double? min, max;
        int minSlot = -1, maxSlot = -1;
        if (ctx.Opset < 11)
        {
            min = ctx.Node.GetAttribute("min") is null ? null : ctx.Float("min", float.MinValue);
            max = ctx.Node.GetAttribute("max") is null ? null : ctx.Float("max", float.MaxValue);
        }
        else
        {
            min = ctx.Constant(1)?.ToDoubles()[0];
            max = ctx.Constant(2)?.ToDoubles()[0];
            if (ctx.Has(1) && min is null) minSlot = ctx.In(1);
            if (ctx.Has(2) && max is null) maxSlot = ctx.In(2);
        }
        if (minSlot < 0 && maxSlot < 0)
        {
            if (min is null && max is null) return s => s[y] = s[x];
            Scalar? lo = min is { } a ? ctx.Scalar(a) : null, hi = max is { } b ? ctx.Scalar(b) : null;
            return s => s[y] = s[x]!.clamp(lo, hi);
        }
        Scalar? minScalar = min is { } m ? ctx.Scalar(m) : null, maxScalar = max is { } n ? ctx.Scalar(n) : null;
        return s =>
        {
            var t = s[x]!;
            if (minScalar is not null) t = t.clamp_min(minScalar);
            else if (minSlot >= 0) t = torch.maximum(t, s[minSlot]!);
            if (maxScalar is not null) t = t.clamp_max(maxScalar);
            else if (maxSlot >= 0) t = torch.minimum(t, s[maxSlot]!);
            s[y] = t;
        };
    }
}
