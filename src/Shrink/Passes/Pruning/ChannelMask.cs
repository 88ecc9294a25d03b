using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Pruning;

/// <summary>
/// The "masked model" of structured pruning: zeroes the pruned channels where they are made and in the
/// per-channel tensors along the way, so every consumer reads zeros there. Shapes stay; the cut model
/// (<see cref="ChannelCut"/>) computes the same outputs.
/// </summary>
public static class ChannelMask
{
    /// <summary>Zeroes the channels of each root group (by id) not in its kept list, in the model <paramref name="flow"/> analysed.</summary>
    public static void Apply(ChannelFlow flow, IReadOnlyDictionary<int, long[]> keep)
    {
        foreach (var g in flow.Groups.Where(g => keep.ContainsKey(g.Id)))
        {
            var kept = keep[g.Id].ToHashSet();
            foreach (var p in g.Producers)
            {
                Zero(p.Weight, p.Axis, c => !kept.Contains(c));
                if (p.Bias is { Const: not null } b) Zero(b, 0, c => !kept.Contains(c));
            }
        }
        foreach (var p in flow.Parameters)
        {
            // BatchNorm: γ = β = 0 makes the channel exactly zero; mean and variance stay valid.
            if (OpRoles.Channels(p.Layer) == ChannelFlowKind.Normalization && OpRoles.Weights(p.Layer) is { } bn && p.Index != bn.Weight && p.Index != bn.Bias) continue;
            var refs = flow.Layouts[p.Input].Refs;
            Zero(p.Tensor, p.Axis, i => keep.TryGetValue(flow.Root(refs[i].Group), out var k) && Array.BinarySearch(k, (long)refs[i].Index) < 0);
        }
    }

    /// <summary>Zeroes the slices of <paramref name="v"/>'s constant along <paramref name="axis"/> that <paramref name="dropped"/> names.</summary>
    internal static void Zero(Value v, int axis, Func<long, bool> dropped)
    {
        var t = v.Const!;
        var values = t.Floats.ToArray();
        long inner = 1;
        for (var i = axis + 1; i < t.Dims.Length; i++) inner *= t.Dims[i];
        for (long i = 0; i < values.LongLength; i++)
            if (dropped(i / inner % t.Dims[axis])) values[i] = 0;
        v.Const = Tensor.FromFloats(t.Name, t.Dims, values);
    }
}
