using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Execution;

/// <summary>Layers: convolution, pooling, dense, normalization, dropout.</summary>
internal static partial class Kernels
{
    private static void RegisterLayers()
    {
        Add("Conv", Conv);
        Add("MaxPool", ctx => Pool(ctx, max: true));
        Add("AveragePool", ctx => Pool(ctx, max: false));
        Add("GlobalAveragePool", ctx => Global(ctx, (x, dims) => x.mean(dims, keepdim: true)));
        Add("GlobalMaxPool", ctx => Global(ctx, (x, dims) => x.amax(dims, keepdim: true)));
        Add("Gemm", Gemm);
        Add("MatMul", ctx => Binary(ctx, torch.matmul));
        Add("BatchNormalization", BatchNormalization);
        Add("LayerNormalization", LayerNormalization);
        Add("Dropout", Dropout);
    }

    /// <summary>Spatial geometry shared by Conv and pooling: kernel, strides, dilations, pads (begin…, end…), auto_pad.</summary>
    private sealed record Window(long[] Kernel, long[] Strides, long[] Dilations, long[] Pads, string AutoPad)
    {
        public int Rank => Kernel.Length;

        public static Window Of(KernelContext ctx, long[] kernel)
        {
            var r = kernel.Length;
            var strides = ctx.Ints("strides") ?? Enumerable.Repeat(1L, r).ToArray();
            var dilations = ctx.Ints("dilations") ?? Enumerable.Repeat(1L, r).ToArray();
            var pads = ctx.Ints("pads") ?? new long[2 * r];
            var autoPad = ctx.String("auto_pad") ?? "NOTSET";
            if (strides.Length != r || dilations.Length != r || pads.Length != 2 * r)
                throw ctx.Unsupported("strides, dilations or pads do not match the kernel rank");
            return new Window(kernel, strides, dilations, pads, autoPad);
        }

        /// <summary>The pads for an input (auto_pad SAME_* depends on the input size).</summary>
        public long[] PadsFor(long[] inputShape)
        {
            if (AutoPad is not ("SAME_UPPER" or "SAME_LOWER")) return AutoPad == "VALID" ? new long[2 * Rank] : Pads;
            var pads = new long[2 * Rank];
            for (var i = 0; i < Rank; i++)
            {
                var size = inputShape[2 + i];
                var output = (size + Strides[i] - 1) / Strides[i];
                var total = Math.Max(0, (output - 1) * Strides[i] + (Kernel[i] - 1) * Dilations[i] + 1 - size);
                var small = total / 2;
                (pads[i], pads[i + Rank]) = AutoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small);
            }
            return pads;
        }

        public static bool Symmetric(long[] pads, int rank) => Enumerable.Range(0, rank).All(i => pads[i] == pads[i + rank]);

        /// <summary>torch's pad list (last axis first, begin then end) for ONNX pads.</summary>
        public static long[] TorchPads(long[] pads, int rank)
        {
            var result = new long[2 * rank];
            for (var i = 0; i < rank; i++)
            {
                result[2 * i] = pads[rank - 1 - i];
                result[2 * i + 1] = pads[2 * rank - 1 - i];
            }
            return result;
        }
    }

    private static Kernel Conv(KernelContext ctx)
    {
        var weightShape = ctx.Node.Inputs[1]?.Shape?.Dims.Select(d => d.Value ?? -1).ToArray()
            ?? ctx.Constant(1)?.Dims;
        var kernel = ctx.Ints("kernel_shape") ?? weightShape?.Skip(2).ToArray()
            ?? throw ctx.Unsupported("kernel_shape unknown");
        if (kernel.Length is not (1 or 2)) throw ctx.Unsupported($"{kernel.Length}-D convolution");
        var w = Window.Of(ctx, kernel);
        var groups = ctx.Int("group", 1);
        int x = ctx.In(0), wt = ctx.In(1), b = ctx.In(2), y = ctx.Out(0);
        var oneD = kernel.Length == 1;
        long[] Two(long[] a, long fill) => oneD ? new[] { fill, a[0] } : a;
        var strides = Two(w.Strides, 1);
        var dilations = Two(w.Dilations, 1);
        var staticPads = w.AutoPad is "NOTSET" or "VALID" ? w.PadsFor(Array.Empty<long>()) : null;
        return s =>
        {
            var input = s[x]!;
            var weight = s[wt]!;
            if (oneD)
            {
                input = input.unsqueeze(2);
                weight = weight.unsqueeze(2);
            }
            var pads = staticPads ?? w.PadsFor(s[x]!.shape);
            long[] padding;
            if (Window.Symmetric(pads, w.Rank)) padding = Two(pads[..w.Rank], 0);
            else
            {
                input = F.pad(input, Window.TorchPads(pads, w.Rank));
                padding = new long[2];
            }
            var output = F.conv2d(input, weight, b < 0 ? null : s[b], strides, padding, dilations, groups);
            s[y] = oneD ? output.squeeze(2) : output;
        };
    }

    private static Kernel Pool(KernelContext ctx, bool max)
    {
        var kernel = ctx.Ints("kernel_shape") ?? throw ctx.Unsupported("kernel_shape missing");
        if (kernel.Length != 2) throw ctx.Unsupported($"{kernel.Length}-D pooling");
        if (max && ctx.OutputUsed(1)) throw ctx.Unsupported("the Indices output");
        var w = Window.Of(ctx, kernel);
        var ceil = ctx.Int("ceil_mode", 0) != 0;
        var includePad = ctx.Int("count_include_pad", 0) != 0;
        int x = ctx.In(0), y = ctx.Out(0);
        return s =>
        {
            var input = s[x]!;
            var pads = w.PadsFor(input.shape);
            long[] padding = pads[..2];
            if (!Window.Symmetric(pads, 2) || padding[0] * 2 > kernel[0] || padding[1] * 2 > kernel[1])
            {
                if (!max && !includePad && pads.Any(p => p != 0))
                    throw new ArgumentException("AveragePool with asymmetric pads and count_include_pad=0 is not supported");
                input = F.pad(input, Window.TorchPads(pads, 2), value: max ? double.NegativeInfinity : 0);
                padding = new long[2];
            }
            s[y] = max
                ? F.max_pool2d(input, kernel, w.Strides, padding, w.Dilations, ceil)
                : F.avg_pool2d(input, kernel, w.Strides, padding, ceil, includePad);
        };
    }

    private static Kernel Global(KernelContext ctx, Func<Tensor, long[], Tensor> reduce)
    {
        int x = ctx.In(0), y = ctx.Out(0);
        return s =>
        {
            var input = s[x]!;
            s[y] = reduce(input, Enumerable.Range(2, (int)input.dim() - 2).Select(i => (long)i).ToArray());
        };
    }

    private static Kernel Gemm(KernelContext ctx)
    {
        var alpha = ctx.Float("alpha", 1f);
        var beta = ctx.Float("beta", 1f);
        var transA = ctx.Int("transA", 0) != 0;
        var transB = ctx.Int("transB", 0) != 0;
        int a = ctx.In(0), bIn = ctx.In(1), c = ctx.In(2), y = ctx.Out(0);
        var biasRank = ctx.Node.Inputs.Count > 2 ? ctx.Node.Inputs[2]?.Shape?.Rank ?? ctx.Constant(2)?.Dims.Length : 0;
        if (!transA && alpha == 1f && beta == 1f && (c < 0 || biasRank == 1))
        {
            // The common case (a Linear layer): one fused call.
            if (transB) return s => s[y] = F.linear(s[a]!, s[bIn]!, c < 0 ? null : s[c]);
            return s => s[y] = F.linear(s[a]!, s[bIn]!.t(), c < 0 ? null : s[c]);
        }
        Scalar alphaScalar = ctx.Scalar(alpha), betaScalar = ctx.Scalar(beta), one = ctx.Scalar(1L);
        return s =>
        {
            var left = transA ? s[a]!.t() : s[a]!;
            var right = transB ? s[bIn]!.t() : s[bIn]!;
            var product = left.matmul(right);
            if (alpha != 1f) product = product.mul(alphaScalar);
            if (c >= 0 && beta != 0f) product = product.add(beta == 1f ? s[c]! : s[c]!.mul(betaScalar), one);
            s[y] = product;
        };
    }

    private static Kernel BatchNormalization(KernelContext ctx)
    {
        if (ctx.OutputUsed(1) || ctx.OutputUsed(2)) throw ctx.Unsupported("the running mean/variance outputs");
        var eps = ctx.Float("epsilon", 1e-5f);
        var momentum = ctx.Float("momentum", 0.9f);
        var ex = ctx.Executor;
        int x = ctx.In(0), scale = ctx.In(1), bias = ctx.In(2), mean = ctx.In(3), variance = ctx.In(4), y = ctx.Out(0);
        // ONNX: running = running·momentum + batch·(1 − momentum); torch's momentum is the batch's weight.
        return s => s[y] = F.batch_norm(s[x]!, s[mean]!, s[variance]!, s[scale], s[bias], ex.Training, 1 - momentum, eps);
    }

    private static Kernel LayerNormalization(KernelContext ctx)
    {
        if (ctx.OutputUsed(1) || ctx.OutputUsed(2)) throw ctx.Unsupported("the Mean/InvStdDev outputs");
        var axis = ctx.Int("axis", -1);
        var eps = ctx.Float("epsilon", 1e-5f);
        int x = ctx.In(0), scale = ctx.In(1), bias = ctx.In(2), y = ctx.Out(0);
        return s =>
        {
            var input = s[x]!;
            var shape = input.shape[(int)Axis(axis, input.dim())..];
            s[y] = F.layer_norm(input, shape, s[scale], bias < 0 ? null : s[bias], eps);
        };
    }

    private static Kernel Dropout(KernelContext ctx)
    {
        if (ctx.OutputUsed(1)) throw ctx.Unsupported("the mask output");
        var ex = ctx.Executor;
        int x = ctx.In(0), ratioSlot = ctx.Opset >= 12 ? ctx.In(1) : -1, y = ctx.Out(0);
        double? ratio = ctx.Opset >= 12 ? (ctx.Has(1) ? ctx.Constant(1)?.ToDoubles()[0] : 0.5) : ctx.Float("ratio", 0.5f);
        return s =>
        {
            if (!ex.Training) { s[y] = s[x]; return; }
            var p = ratio ?? s[ratioSlot]!.ToDouble();
            s[y] = F.dropout(s[x]!, p, training: true);
        };
    }
}
