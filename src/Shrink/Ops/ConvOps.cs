using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>
/// Convolution and pooling: spatial output sizes from kernel, strides, pads, dilations, auto_pad and ceil_mode;
/// the weight layouts of Conv [O, I/g, k…] and ConvTranspose [I, O/g, k…].
/// </summary>
internal static class ConvOps
{
    public static void Register(Action<OpSchema> add)
    {
        add(new OpSchema("Conv", InferConv, 2, 3)
        {
            Macs = ConvMacs, Channels = ChannelFlowKind.Layer, Quantization = QuantizationRole.Weighted,
            Weights = n => new WeightLayout(1, OpRoles.Optional(n, 2), OutputAxis: 0, InputAxis: 1, (int)n.GetInt("group", 1), Spatial: true),
        });
        add(new OpSchema("ConvTranspose", ConvTransposeInference.Infer, 2, 3)
        {
            Macs = ConvTransposeInference.Macs, Channels = ChannelFlowKind.Layer,
            Weights = n => new WeightLayout(1, OpRoles.Optional(n, 2), OutputAxis: 1, InputAxis: 0, (int)n.GetInt("group", 1), Spatial: true),
        });
        Func<Node, bool> always = _ => true;
        add(new OpSchema("MaxPool", c => InferPool(c, KernelFromAttr(c)), 1, 1) { Channels = ChannelFlowKind.Pool, KeepsZero = always, Quantization = QuantizationRole.SameScale });
        add(new OpSchema("AveragePool", c => InferPool(c, KernelFromAttr(c)), 1, 1) { Channels = ChannelFlowKind.Pool, KeepsZero = always, Quantization = QuantizationRole.Requantizing });
        add(new OpSchema("LpPool", c => InferPool(c, KernelFromAttr(c)), 1, 1) { Channels = ChannelFlowKind.Pool });
        add(new OpSchema("GlobalAveragePool", InferGlobalPool) { Channels = ChannelFlowKind.Pool, KeepsZero = always, Quantization = QuantizationRole.Requantizing });
        add(new OpSchema("GlobalMaxPool", InferGlobalPool) { Channels = ChannelFlowKind.Pool, KeepsZero = always });
    }

    private static void InferConv(InferenceContext c)
    {
        c.RequireSameType(0, 1);
        var w = c.InputShape(1);
        var kernel = c.Ints("kernel_shape") ?? (w is { Rank: > 2 } && w.Dims.Skip(2).All(d => d.IsKnown) ? w.ToArray()[2..] : null);
        var x = c.InputShape(0);
        if (x is null || kernel is null) { c.SetOutput(0, c.InputType(0), null); return; }
        var channels = w is not null && w[0].IsKnown ? w[0] : Dim.Unknown;
        var group = c.Int("group", 1);
        if (w is not null && x[1].IsKnown && w[1].IsKnown && x[1].Value != w[1].Value * group)
            c.Problem($"shape mismatch at node '{c.Node.DisplayName}' (Conv): input has {x[1].Value} channels but the weight expects {w[1].Value * group} ({w[1].Value} x group {group})");
        c.SetOutput(0, c.InputType(0), new Shape(new[] { x[0], channels }.Concat(Spatial(c, x, kernel, ceil: false))));
    }

    private static long[]? KernelFromAttr(InferenceContext c) => c.Ints("kernel_shape");

    private static void InferPool(InferenceContext c, long[]? kernel)
    {
        var x = c.InputShape(0);
        if (x is null || kernel is null) { c.PassThroughRankless(); return; }
        var shape = new Shape(new[] { x[0], x[1] }.Concat(Spatial(c, x, kernel, c.Int("ceil_mode", 0) != 0)));
        c.SetOutput(0, c.InputType(0), shape);
        c.SetOutput(1, DataType.Int64, shape);  // MaxPool's optional indices
    }

    private static void InferGlobalPool(InferenceContext c)
    {
        var x = c.InputShape(0);
        c.SetOutput(0, c.InputType(0), x is null ? null : new Shape(x.Dims.Take(2).Concat(Enumerable.Repeat(Dim.Of(1), x.Rank - 2))));
    }

    /// <summary>Output spatial sizes: floor((in + pads - dilation·(k−1) − 1) / stride) + 1, or the auto_pad rules.</summary>
    private static IEnumerable<Dim> Spatial(InferenceContext c, Shape x, long[] kernel, bool ceil)
    {
        var n = kernel.Length;
        var strides = c.Ints("strides") ?? Enumerable.Repeat(1L, n).ToArray();
        var dilations = c.Ints("dilations") ?? Enumerable.Repeat(1L, n).ToArray();
        var pads = c.Ints("pads") ?? new long[2 * n];
        var autoPad = c.Node.GetString("auto_pad") ?? "NOTSET";
        for (var i = 0; i < n; i++)
        {
            if (x.Rank != n + 2 || !x[i + 2].IsKnown) { yield return Dim.Unknown; continue; }
            var input = x[i + 2].Value!.Value;
            var effective = dilations[i] * (kernel[i] - 1) + 1;
            if (autoPad is "SAME_UPPER" or "SAME_LOWER") { yield return Dim.Of((input + strides[i] - 1) / strides[i]); continue; }
            var padded = autoPad == "VALID" ? input : input + pads[i] + pads[i + n];
            var span = padded - effective;
            var outSize = (ceil ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1;
            if (ceil && (outSize - 1) * strides[i] >= input + pads[i]) outSize--;
            yield return Dim.Of(outSize);
        }
    }

    /// <summary>MACs of a convolution: output elements × (input channels / group) × kernel elements.</summary>
    private static long? ConvMacs(InferenceContext c)
    {
        var w = c.InputShape(1);
        var y = c.Node.Outputs[0]?.Shape;
        if (w is null || !w.IsFullyKnown || c.PerSampleElements(y) is not { } outputs) return null;
        return outputs * w.ToArray().Skip(1).Aggregate(1L, (a, d) => a * d);
    }
}
