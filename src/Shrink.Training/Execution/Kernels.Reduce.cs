using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Execution;

/// <summary>Reductions, softmax and arg-max.</summary>
internal static partial class Kernels
{
    private static void RegisterReduce()
    {
        Add("ReduceMean", ctx => Reduce(ctx, (x, d, k) => x.mean(d, k), axesInputSince: 18));
        Add("ReduceSum", ctx => Reduce(ctx, (x, d, k) => x.sum(d, k), axesInputSince: 13));
        Add("ReduceMax", ctx => Reduce(ctx, (x, d, k) => x.amax(d, k), axesInputSince: 18));
        Add("ReduceMin", ctx => Reduce(ctx, (x, d, k) => x.amin(d, k), axesInputSince: 18));
        Add("ReduceSumSquare", ctx => Reduce(ctx, (x, d, k) => x.square().sum(d, k), axesInputSince: 18));
        Add("ReduceL2", ctx => Reduce(ctx, (x, d, k) => x.square().sum(d, k).sqrt(), axesInputSince: 18));
        Add("Softmax", ctx => SoftmaxLike(ctx, (x, dim) => F.softmax(x, dim)));
        Add("LogSoftmax", ctx => SoftmaxLike(ctx, (x, dim) => F.log_softmax(x, dim)));
        Add("ArgMax", ctx =>
        {
            var axis = ctx.Int("axis", 0);
            var keep = ctx.Int("keepdims", 1) != 0;
            if (ctx.Int("select_last_index", 0) != 0) throw ctx.Unsupported("select_last_index=1");
            return Unary(ctx, x => x.argmax(Axis(axis, x.dim()), keep));
        });
    }

    private static Kernel Reduce(KernelContext ctx, Func<Tensor, long[], bool, Tensor> reduce, int axesInputSince)
    {
        var keep = ctx.Int("keepdims", 1) != 0;
        var noop = ctx.Int("noop_with_empty_axes", 0) != 0;
        var fromInput = ctx.Opset >= axesInputSince;
        var axes = fromInput ? ctx.ConstantInts(1) : ctx.Ints("axes");
        var axesSlot = fromInput && axes is null ? ctx.In(1) : -1;
        int x = ctx.In(0), y = ctx.Out(0);
        return s =>
        {
            var t = s[x]!;
            var list = axes ?? (axesSlot >= 0 ? Longs(s[axesSlot]!) : null);
            if (list is null || list.Length == 0)
            {
                if (noop) { s[y] = t; return; }
                list = Enumerable.Range(0, (int)t.dim()).Select(i => (long)i).ToArray();
            }
            s[y] = reduce(t, list.Select(a => Axis(a, t.dim())).ToArray(), keep);
        };
    }

    /// <summary>Softmax along an axis (opset 13+); before 13, over the input coerced to 2-D at the axis.</summary>
    private static Kernel SoftmaxLike(KernelContext ctx, Func<Tensor, long, Tensor> f)
    {
        var legacy = ctx.Opset < 13;
        var axis = ctx.Int("axis", legacy ? 1 : -1);
        int x = ctx.In(0), y = ctx.Out(0);
        return s =>
        {
            var t = s[x]!;
            var a = Axis(axis, t.dim());
            if (!legacy || a == t.dim() - 1) { s[y] = f(t, a); return; }
            var outer = t.shape.Take((int)a).Aggregate(1L, (p, d) => p * d);
            s[y] = f(t.reshape(outer, -1), 1).reshape(t.shape);
        };
    }
}
