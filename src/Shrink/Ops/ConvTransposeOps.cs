using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>
/// ConvTranspose: weight [I, O/g, k…]; output channels O = W[1]·group; spatial sizes
/// stride·(in − 1) + output_padding + dilation·(k − 1) + 1 − pads, or output_shape, or in·stride with SAME padding.
/// </summary>
internal static class ConvTransposeInference
{
    public static void Infer(InferenceContext c)
    {
        c.RequireSameType(0, 1);
        var (x, w) = (c.InputShape(0), c.InputShape(1));
        var group = c.Int("group", 1);
        var kernel = c.Ints("kernel_shape") ?? (w is { Rank: > 2 } && w.Dims.Skip(2).All(d => d.IsKnown) ? w.ToArray()[2..] : null);
        if (x is null || kernel is null || x.Rank != kernel.Length + 2) { c.SetOutput(0, c.InputType(0), null); return; }
        if (w is not null && x[1].IsKnown && w[0].IsKnown && x[1].Value != w[0].Value)
            c.Problem($"shape mismatch at node '{c.Node.DisplayName}' (ConvTranspose): input has {x[1].Value} channels but the weight expects {w[0].Value}");
        var channels = w is not null && w[1].IsKnown ? Dim.Of(w[1].Value!.Value * group) : Dim.Unknown;
        c.SetOutput(0, c.InputType(0), new Shape(new[] { x[0], channels }.Concat(Spatial(c, x, kernel))));
    }

    private static IEnumerable<Dim> Spatial(InferenceContext c, Shape x, long[] kernel)
    {
        var n = kernel.Length;
        if (c.Ints("output_shape") is { } given) return given.TakeLast(n).Select(Dim.Of);
        var strides = c.Ints("strides") ?? Enumerable.Repeat(1L, n).ToArray();
        var dilations = c.Ints("dilations") ?? Enumerable.Repeat(1L, n).ToArray();
        var extra = c.Ints("output_padding") ?? new long[n];
        var pads = c.Ints("pads") ?? new long[2 * n];
        var autoPad = c.Node.GetString("auto_pad") ?? "NOTSET";
        return Enumerable.Range(0, n).Select(i =>
        {
            if (!x[i + 2].IsKnown) return Dim.Unknown;
            var input = x[i + 2].Value!.Value;
            if (autoPad is "SAME_UPPER" or "SAME_LOWER") return Dim.Of(input * strides[i]);
            var padding = autoPad == "VALID" ? 0 : pads[i] + pads[i + n];
            return Dim.Of(strides[i] * (input - 1) + extra[i] + dilations[i] * (kernel[i] - 1) + 1 - padding);
        });
    }

    /// <summary>MACs: every input element meets (O/g) × kernel elements of the weight.</summary>
    public static long? Macs(InferenceContext c)
    {
        var w = c.InputShape(1);
        if (w is null || !w.IsFullyKnown || c.PerSampleElements(c.InputShape(0)) is not { } inputs) return null;
        return inputs * w.ToArray().Skip(1).Aggregate(1L, (a, d) => a * d);
    }
}
