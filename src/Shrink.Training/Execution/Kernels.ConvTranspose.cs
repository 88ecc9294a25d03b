using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Execution;

/// <summary>
/// ConvTranspose (1-D to 3-D): groups, strides, dilations, pads, output_padding, output_shape and auto_pad.
/// Per spatial axis the full transposed convolution has F = (in − 1)·stride + (kernel − 1)·dilation + 1
/// positions; ONNX keeps [pad_begin, F + output_padding − pad_end), the positions past F holding only
/// the bias. torch's conv_transpose computes exactly that when the pads are symmetric and output_padding
/// is below stride or dilation; otherwise the kernel runs it unpadded, crops or extends the result with
/// a constant pad of 0, and adds the bias after.
/// </summary>
internal static partial class Kernels
{
    private static void RegisterConvTranspose() => Add("ConvTranspose", ConvTranspose);

    /// <summary>The geometry of a ConvTranspose node: per spatial axis stride, dilation, kernel, output_padding; pads or how to find them.</summary>
    private sealed record TransposeWindow(long[] Kernel, long[] Strides, long[] Dilations, long[] OutputPadding, long[] Pads, long[]? OutputShape, string AutoPad)
    {
        public int Rank => Kernel.Length;

        public static TransposeWindow Of(KernelContext ctx, long[] kernel)
        {
            var r = kernel.Length;
            long[] Ones() => Enumerable.Repeat(1L, r).ToArray();
            var w = new TransposeWindow(kernel, ctx.Ints("strides") ?? Ones(), ctx.Ints("dilations") ?? Ones(),
                ctx.Ints("output_padding") ?? new long[r], ctx.Ints("pads") ?? new long[2 * r], ctx.Ints("output_shape"),
                ctx.String("auto_pad") ?? "NOTSET");
            if (w.Strides.Length != r || w.Dilations.Length != r || w.OutputPadding.Length != r || w.Pads.Length != 2 * r)
                throw ctx.Unsupported("strides, dilations, output_padding or pads that do not match the kernel rank");
            if (w.OutputShape is { } shape && shape.Length != r && shape.Length != r + 2)
                throw ctx.Unsupported($"output_shape of {shape.Length} values for a {r}-D kernel");
            if (w.AutoPad is not ("NOTSET" or "VALID" or "SAME_UPPER" or "SAME_LOWER")) throw ctx.Unsupported($"auto_pad '{w.AutoPad}'");
            return w;
        }

        /// <summary>Pads (begin…, end…) and output sizes for the spatial sizes of an input, as ONNX Runtime computes them.</summary>
        public (long[] Pads, long[] Sizes) For(long[] spatial)
        {
            var pads = AutoPad == "VALID" ? new long[2 * Rank] : (long[])Pads.Clone();
            var sizes = new long[Rank];
            for (var i = 0; i < Rank; i++)
            {
                var full = (spatial[i] - 1) * Strides[i] + OutputPadding[i] + (Kernel[i] - 1) * Dilations[i] + 1;
                long? wanted = OutputShape is { } s ? s[s.Length - Rank + i] : AutoPad is "SAME_UPPER" or "SAME_LOWER" ? spatial[i] * Strides[i] : null;
                if (wanted is { } target)
                {
                    var total = Math.Max(0, full - target);
                    // As the ONNX spec and ONNX Runtime: SAME_UPPER puts the odd one at the end, everything else at the beginning.
                    (pads[i], pads[i + Rank]) = AutoPad == "SAME_UPPER" ? (total / 2, total - total / 2) : (total - total / 2, total / 2);
                    sizes[i] = OutputShape is null ? full - total : target;
                }
                else sizes[i] = full - pads[i] - pads[i + Rank];
            }
            return (pads, sizes);
        }
    }

    private static Kernel ConvTranspose(KernelContext ctx)
    {
        var kernel = ctx.Ints("kernel_shape") ?? ctx.Constant(1)?.Dims.Skip(2).ToArray()
            ?? ctx.Node.Inputs[1]?.Shape?.Dims.Skip(2).Select(d => d.Value ?? -1).ToArray()
            ?? throw ctx.Unsupported("kernel_shape unknown");
        if (kernel.Length is < 1 or > 3 || kernel.Any(k => k < 1)) throw ctx.Unsupported($"a kernel of shape [{string.Join(",", kernel)}]");
        var w = TransposeWindow.Of(ctx, kernel);
        var groups = ctx.Int("group", 1);
        int x = ctx.In(0), wt = ctx.In(1), b = ctx.In(2), y = ctx.Out(0);
        var one = ctx.Scalar(1L);
        return s =>
        {
            var input = s[x]!;
            var (pads, sizes) = w.For(input.shape[2..]);
            s[y] = TransposedConvolution(input, s[wt]!, b < 0 ? null : s[b], w, groups, pads, sizes, one);
        };
    }

    private static Tensor TransposedConvolution(Tensor input, Tensor weight, Tensor? bias, TransposeWindow w, long groups, long[] pads, long[] sizes, Scalar one)
    {
        var r = w.Rank;
        var torchFits = Window.Symmetric(pads, r) && Enumerable.Range(0, r).All(i =>
            w.OutputPadding[i] < Math.Max(w.Strides[i], w.Dilations[i])
            && sizes[i] == (input.shape[2 + i] - 1) * w.Strides[i] - 2 * pads[i] + (w.Kernel[i] - 1) * w.Dilations[i] + w.OutputPadding[i] + 1);
        if (torchFits) return Transpose(input, weight, bias, w.Strides, pads[..r], w.OutputPadding, w.Dilations, groups);
        var full = Transpose(input, weight, null, w.Strides, new long[r], new long[r], w.Dilations, groups);
        // Crop pads[i] at the beginning; crop or extend the end so that the axis has sizes[i] positions.
        var torchPads = new long[2 * r];
        for (var i = 0; i < r; i++)
        {
            var axis = r - 1 - i;  // torch's pad list starts at the last axis
            torchPads[2 * i] = -pads[axis];
            torchPads[2 * i + 1] = sizes[axis] - (full.shape[2 + axis] - pads[axis]);
        }
        var output = F.pad(full, torchPads);
        if (bias is null) return output;
        var view = Enumerable.Repeat(1L, r + 2).ToArray();
        view[1] = bias.shape[0];
        return output.add(bias.reshape(view), one);
    }

    private static Tensor Transpose(Tensor input, Tensor weight, Tensor? bias, long[] strides, long[] padding, long[] outputPadding, long[] dilations, long groups) =>
        strides.Length switch
        {
            1 => F.conv_transpose1d(input, weight, bias, strides[0], padding[0], outputPadding[0], dilations[0], groups),
            2 => F.conv_transpose2d(input, weight, bias, strides, padding, outputPadding, dilations, groups),
            _ => F.conv_transpose3d(input, weight, bias, strides, padding, outputPadding, dilations, groups),
        };
}
