using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>The bounds of a Clip node, wherever its opset keeps them.</summary>
public static class ClipBounds
{
    /// <summary>
    /// Min and max from inputs 1 and 2 (opset 11 and later) or the attributes (earlier); an absent bound
    /// is ±∞. Null when a bound is computed at run time.
    /// </summary>
    public static (double Min, double Max)? Of(Node clip)
    {
        double? Bound(int input, string attribute, double absent) =>
            clip.Inputs.ElementAtOrDefault(input) is { Name.Length: > 0 } v
                ? Graph.ConstantOf(v)?.ToDoubles()[0]
                : clip.GetAttribute(attribute) is null ? absent : clip.GetFloat(attribute, 0);
        return Bound(1, "min", double.NegativeInfinity) is { } min && Bound(2, "max", double.PositiveInfinity) is { } max ? (min, max) : null;
    }
}
