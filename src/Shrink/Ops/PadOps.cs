using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>
/// Pad (pads as an attribute before opset 11, as an input from 11, with optional axes from 18): each padded axis grows
/// by its begin and end pads. It keeps zero channel by channel unless a constant other than 0 fills the border.
/// </summary>
internal static class PadOps
{
    public static void Register(Action<OpSchema> add) =>
        add(new OpSchema("Pad", Infer, 1, 4) { Channels = ChannelFlowKind.Pad, KeepsZero = KeepsZero });

    private static void Infer(InferenceContext c)
    {
        var x = c.InputShape(0);
        if (x is null) { c.PassThroughRankless(); return; }
        var pads = c.Ints("pads") ?? (c.HasInput(1) ? c.IntValues(1) : null);
        var axes = c.HasInput(3) ? c.IntValues(3) : Enumerable.Range(0, x.Rank).Select(a => (long)a).ToArray();
        if (pads is null || axes is null || pads.Length != 2 * axes.Length || axes.Any(a => c.CheckedAxis(a, x.Rank, "axes entry") is null))
        {
            c.SetOutput(0, c.InputType(0), new Shape(Enumerable.Repeat(Dim.Unknown, x.Rank)));
            return;
        }
        var dims = x.Dims.ToArray();
        for (var i = 0; i < axes.Length; i++)
        {
            var a = InferenceContext.Axis(axes[i], x.Rank);
            var grow = pads[i] + pads[i + axes.Length];
            if (grow != 0) dims[a] = dims[a].Value is { } d ? Dim.Of(d + grow) : Dim.Unknown;
        }
        c.SetOutput(0, c.InputType(0), new Shape(dims));
    }

    /// <summary>Reflect, edge and wrap modes copy values (zeros stay zero); constant mode keeps zero when the constant is 0.</summary>
    private static bool KeepsZero(Node node)
    {
        if ((node.GetString("mode") ?? "constant") != "constant") return true;
        if (node.GetAttribute("value") is not null) return node.GetFloat("value", 0) == 0;
        if (node.Inputs.ElementAtOrDefault(2) is not { Name.Length: > 0 } v) return true;
        return Graph.ConstantOf(v) is { DataType: DataType.Float, ElementCount: 1 } t && t.Floats.ToArray()[0] == 0;
    }
}
