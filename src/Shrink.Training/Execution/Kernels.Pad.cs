using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Execution;

/// <summary>
/// Pad in every form PyTorch exports: pads as an attribute (opsets 2–10) or an input (11 on, with the
/// constant value an optional input and, from 18, the axes), modes constant, reflect, edge and wrap
/// (19), negative pads cropping. Constant padding is torch's; the other modes gather along each padded
/// axis, which works on any axis of any rank (torch's reflection and replication pads take only the last
/// one to three axes) and passes gradients back to the pixels read. As in ONNX Runtime, negative pads
/// crop the input before the positive ones pad it.
/// </summary>
internal static partial class Kernels
{
    private static void RegisterPad() => Add("Pad", Pad);

    private static Kernel Pad(KernelContext ctx)
    {
        var mode = ctx.String("mode") ?? "constant";
        if (mode is not ("constant" or "reflect" or "edge" or "wrap")) throw ctx.Unsupported($"mode '{mode}'");
        var fromInputs = ctx.Opset >= 11;
        var pads = fromInputs ? ctx.ConstantInts(1) : ctx.Ints("pads") ?? ctx.Ints("paddings") ?? throw ctx.Unsupported("no pads attribute");
        int padSlot = fromInputs && pads is null ? ctx.In(1) : -1;
        var axes = ctx.Opset >= 18 ? ctx.ConstantInts(3) : null;
        int axesSlot = ctx.Opset >= 18 && axes is null && ctx.Has(3) ? ctx.In(3) : -1;
        double? value = fromInputs ? (ctx.Has(2) ? ctx.Constant(2)?.ToDoubles()[0] : 0.0) : ctx.Float("value", 0f);
        int valueSlot = fromInputs && value is null ? ctx.In(2) : -1;
        int x = ctx.In(0), y = ctx.Out(0);
        return s =>
        {
            var t = s[x]!;
            var full = FullPads(pads ?? Longs(s[padSlot]!), axes ?? (axesSlot >= 0 ? Longs(s[axesSlot]!) : null), (int)t.dim());
            s[y] = mode == "constant" ? ConstantPad(t, full, value ?? s[valueSlot]!.ToDouble()) : GatherPad(t, full, mode);
        };
    }

    /// <summary>Pads (begin…, end…) for every axis from pads given for <paramref name="axes"/> (all axes when null).</summary>
    private static long[] FullPads(long[] pads, long[]? axes, int rank)
    {
        var on = axes?.Select(a => (int)Axis(a, rank)).ToArray() ?? Enumerable.Range(0, rank).ToArray();
        if (pads.Length != 2 * on.Length) throw new ArgumentException($"Pad has {pads.Length} pads for {on.Length} axes");
        var full = new long[2 * rank];
        for (var i = 0; i < on.Length; i++)
        {
            full[on[i]] = pads[i];
            full[on[i] + rank] = pads[i + on.Length];
        }
        return full;
    }

    private static Tensor ConstantPad(Tensor t, long[] full, double value)
    {
        var rank = full.Length / 2;
        // torch pads from the last axis; leading axes without padding are left out of its list.
        var first = 0;
        while (first < rank && full[first] == 0 && full[first + rank] == 0) first++;
        if (first == rank) return t;
        var torchPads = new List<long>();
        for (var i = rank - 1; i >= first; i--) torchPads.AddRange(new[] { full[i], full[i + rank] });
        return F.pad(t, torchPads.ToArray(), PaddingModes.Constant, value);
    }

    /// <summary>Reflect, edge or wrap padding: per padded axis, the input position each output position copies.</summary>
    private static Tensor GatherPad(Tensor t, long[] full, string mode)
    {
        var rank = full.Length / 2;
        for (var axis = 0; axis < rank; axis++)
        {
            long begin = full[axis], end = full[axis + rank], size = t.shape[axis];
            if (begin == 0 && end == 0) continue;
            long from = Math.Max(0, -begin), kept = size - from - Math.Max(0, -end);
            long before = Math.Max(0, begin), length = kept + before + Math.Max(0, end);
            if (kept < 0 || kept == 0 && length > 0)
                throw new ArgumentException($"Pad cannot {mode}-pad axis {axis} of size {size} by [{begin}, {end}]");
            var index = new long[length];
            for (var j = 0; j < length; j++) index[j] = from + Source(j - before, kept, mode);
            t = t.index_select(axis, torch.tensor(index));
        }
        return t;
    }

    /// <summary>The position within an axis of <paramref name="n"/> elements that position <paramref name="i"/> (possibly outside it) copies.</summary>
    private static long Source(long i, long n, string mode)
    {
        if (i >= 0 && i < n) return i;
        switch (mode)
        {
            case "edge":
                return Math.Clamp(i, 0, n - 1);
            case "wrap":
                return (i % n + n) % n;
            default:
                if (n == 1) return 0;
                var period = 2 * (n - 1);
                var m = (i % period + period) % period;
                return m < n ? m : period - m;
        }
    }
}
