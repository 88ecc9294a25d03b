using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Pruning;

/// <summary>Follows one attention block from its two MatMuls to its projections (see <see cref="AttentionHeads"/>); throws <see cref="HeadPatternException"/> with the reason when it cannot.</summary>
internal sealed class HeadFinder
{
    private readonly IReadOnlyDictionary<Value, Dim[]> _shapes;

    public HeadFinder(IReadOnlyDictionary<Value, Dim[]> shapes) => _shapes = shapes;

    private static HeadPatternException Refuse(string reason) => new(reason);

    public AttentionBlock Block(string name, Node scores, Node context)
    {
        var (q, qSplit) = Path(scores.Inputs[0]!, scores, "query");
        var (k, kSplit) = Path(scores.Inputs[1]!, scores, "key");
        var (v, vSplit) = Path(context.Inputs[1]!, context, "value");
        var (output, spec, merge) = OutputPath(context);
        var packed = q.Layer == k.Layer && k.Layer == v.Layer;
        if (!packed && (q.Layer == k.Layer || k.Layer == v.Layer || q.Layer == v.Layer))
            throw Refuse("two of its query, key and value projections share a layer");
        if (packed) (q, k, v) = Parts(q, k, v);
        else if (new[] { q, k, v }.FirstOrDefault(p => p.Take is not null) is { } sliced)
            throw Refuse($"it reads a slice of '{sliced.Layer.DisplayName}' as a whole projection");
        var width = packed ? Width(q) / 3 : Width(q);
        if (!packed && (Width(k) != width || Width(v) != width)) throw Refuse("its query, key and value projections differ in width");
        var d = HeadSize(qSplit);
        if (HeadSize(kSplit) != d || HeadSize(vSplit) != d) throw Refuse("its query, key and value have different head sizes");
        if (d < 1 || width % d != 0) throw Refuse($"its head size {d} does not divide the projection width {width}");
        var heads = (int)(width / d);
        if (heads < 2) throw Refuse("it has a single head");
        if (spec.Weight.Const!.Dims[spec.InAxis] != width) throw Refuse($"its output projection '{output.DisplayName}' does not read {width} features");
        var targets = new[] { qSplit, kSplit, vSplit }.Select(r => Edit(r, 2, heads)).Append(Edit(merge, 1, width)).ToList();
        return new AttentionBlock(name, heads, (int)d, q, k, v, output, spec.Weight, spec.InAxis, targets);
    }

    private static long Width(HeadProjection p) => p.Weight.Const!.Dims[p.OutAxis];

    /// <summary>Back from an operand of an attention MatMul to its projection, through Transpose, a scalar scale and the one Reshape into heads.</summary>
    private (HeadProjection Projection, Node Split) Path(Value v, Node reader, string role)
    {
        Node? split = null;
        while (true)
        {
            OnlyReadBy(v, reader, role);
            var p = v.Producer ?? throw Refuse($"its {role} is a graph input");
            Value? next = p.OpType switch
            {
                "Transpose" => p.Inputs[0],
                "Div" or "Mul" when AttentionHeads.Scalar(p.Inputs.ElementAtOrDefault(1)) => p.Inputs[0],
                "Mul" when AttentionHeads.Scalar(p.Inputs[0]) => p.Inputs[1],
                "Reshape" when split is null => p.Inputs[0],
                _ => null,
            };
            if (next is null) break;
            if (p.OpType == "Reshape") split = p;
            (v, reader) = (next, p);
        }
        if (split is null) throw Refuse($"no Reshape splits its {role} into heads");
        return (Projection(v, reader, role), split);
    }

    /// <summary>The layer that makes <paramref name="v"/> (through its bias Add, and the Slice or Split of a packed in_proj).</summary>
    private HeadProjection Projection(Value v, Node reader, string role)
    {
        var p = v.Producer!;
        Node? take = null;
        var taken = 0;
        if (p.OpType is "Slice" or "Split")
        {
            (take, taken) = (p, v.ProducerIndex);
            v = p.Inputs[0]!;
            if (v.Uses.Any(u => u.Node.OpType is not ("Slice" or "Split" or "Shape")))
                throw Refuse($"the packed projection of its {role} is also read by '{v.Uses.First(u => u.Node.OpType is not ("Slice" or "Split" or "Shape")).Node.DisplayName}'");
            p = v.Producer ?? throw Refuse($"its {role} is a graph input");
        }
        Value? bias = null;
        if (p.OpType == "Add" && p.Inputs.Count == 2 && p.Inputs.FirstOrDefault(i => i?.Const is { Dims.Length: 1 }) is { } b)
        {
            bias = b;
            var x = p.Inputs[0] == b ? p.Inputs[1]! : p.Inputs[0]!;
            if (take is null) OnlyReadBy(v, reader, role);
            (v, reader, p) = (x, p, x.Producer ?? throw Refuse($"its {role} is a graph input"));
            OnlyReadBy(v, reader, role);
        }
        if (ChannelFlow.Spec(p) is not { Spatial: false } spec)
            throw Refuse(p.OpType is "MatMul" or "Gemm" ? $"its {role} projection '{p.DisplayName}' has no constant weight of its own (tied through Identity, or computed)"
                : $"its {role} is made by {p.OpType} '{p.DisplayName}', not by a MatMul or Gemm with constant weights");
        if (spec.Bias is { } c) bias = bias is null ? c : throw Refuse($"'{p.DisplayName}' has two biases");
        var width = spec.Weight.Const!.Dims[spec.OutAxis];
        if (spec.Weight.Uses.Count > 1) throw Refuse($"the projection '{p.DisplayName}' shares its weights with other nodes (tied)");
        if (bias is not null && (bias.Uses.Count > 1 || bias.Const is not { Dims: [var n] } || n != width))
            throw Refuse($"the bias of '{p.DisplayName}' is not a constant of its own with one entry per feature");
        return new HeadProjection(p, spec.Weight, spec.OutAxis, bias, -1, take, taken);
    }

    /// <summary>Every node that reads <paramref name="v"/> is <paramref name="reader"/> or a Shape.</summary>
    private static void OnlyReadBy(Value v, Node reader, string role)
    {
        if (v.Uses.FirstOrDefault(u => u.Node != reader && u.Node.OpType != "Shape") is { Node: { } other })
            throw Refuse($"its {role} ('{v.Name}') is also read by {other.OpType} '{other.DisplayName}'");
    }

    /// <summary>From the context MatMul through Transpose and the Reshape that merges the heads to the output projection.</summary>
    private (Node Output, LayerSpec Spec, Node Merge) OutputPath(Node context)
    {
        var v = context.Outputs[0]!;
        Node? merge = null;
        while (true)
        {
            var readers = v.Uses.Where(u => u.Node.OpType != "Shape").ToList();
            if (readers.Count != 1) throw Refuse($"its context ('{v.Name}') is read by {readers.Count} nodes");
            var (n, index) = readers[0];
            if (ChannelFlow.Spec(n) is { Spatial: false } spec && index == 0)
                return merge is null ? throw Refuse("no Reshape merges its heads") : (n, spec, merge);
            if (n.OpType == "Reshape" && merge is null && index == 0) merge = n;
            else if (n.OpType != "Transpose") throw Refuse($"its context goes to {n.OpType} '{n.DisplayName}' before its output projection");
            v = n.Outputs[0]!;
        }
    }

    /// <summary>The head size: the last entry of the Reshape into heads.</summary>
    private long HeadSize(Node split) =>
        ChannelFlow.Values(split, 1, _shapes) is { Length: >= 2 } t && t[^1] is > 0 and var d ? d
            : throw Refuse($"the head size of '{split.DisplayName}' is not known");

    /// <summary>The parts of a packed in_proj that Q, K and V take: 0, 1 and 2 in some order, each a third of its outputs.</summary>
    private (HeadProjection Q, HeadProjection K, HeadProjection V) Parts(HeadProjection q, HeadProjection k, HeadProjection v)
    {
        var third = Width(q) / 3;
        if (Width(q) % 3 != 0) throw Refuse($"its packed projection '{q.Layer.DisplayName}' has {Width(q)} outputs, not three equal parts");
        var parts = new[] { q, k, v }.Select(p => Part(p, third)).ToArray();
        if (parts.Distinct().Count() != 3) throw Refuse($"its query, key and value do not take three different parts of '{q.Layer.DisplayName}'");
        return (q with { Part = parts[0] }, k with { Part = parts[1] }, v with { Part = parts[2] });
    }

    private int Part(HeadProjection p, long third)
    {
        var take = p.Take ?? throw Refuse($"'{p.Layer.DisplayName}' is read whole by its query, key and value");
        var input = take.Inputs[0]!;
        var rank = input.Shape?.Rank;
        bool Last(long axis) => axis == -1 || rank is { } r && axis == r - 1;
        if (take.OpType == "Split")
        {
            if (!Last(take.GetInt("axis", 0)) || take.Outputs.Count != 3) throw Refuse($"'{take.DisplayName}' does not split the last axis in three");
            var sizes = take.Inputs.ElementAtOrDefault(1) is { Name.Length: > 0 } s ? Graph.ConstantOf(s)?.ToInt64s() : take.GetInts("split");
            if (sizes is not null && sizes.Any(x => x != third)) throw Refuse($"'{take.DisplayName}' does not split into three equal parts");
            return p.TakeOutput;
        }
        if (ChannelFlow.SliceBounds(take, _shapes) is not var (starts, ends, axes, steps) || axes.Length != 1 || !Last(axes[0]) || steps is { } st && st[0] != 1)
            throw Refuse($"the bounds of '{take.DisplayName}' are not known on the last axis");
        var (start, end) = ChannelFlow.Bounds(starts[0], ends[0], (int)(third * 3));
        if (end - start != third || start % third != 0) throw Refuse($"'{take.DisplayName}' does not take a third of '{p.Layer.DisplayName}'");
        return (int)(start / third);
    }

    /// <summary>How the entry <paramref name="fromEnd"/> positions from the end of a Reshape's target will be rewritten.</summary>
    private TargetEdit Edit(Node reshape, int fromEnd, long unit)
    {
        if (ChannelFlow.Values(reshape, 1, _shapes) is not { } values || values.Length < fromEnd)
            throw Refuse($"the target of '{reshape.DisplayName}' cannot be read");
        var pos = values.Length - fromEnd;
        var inferred = !values.Where((x, i) => i != pos && x == -1).Any();
        var old = values[pos] ?? -1;
        if (!inferred && (old < 1 || old % unit != 0)) throw Refuse($"the target of '{reshape.DisplayName}' holds a -1 and a computed head count");
        var target = reshape.Inputs[1]!;
        if (Graph.ConstantOf(target) is not null) return new TargetEdit(reshape, fromEnd, inferred, old, -1);
        if (target.Producer is not { OpType: "Concat" } concat || target.Uses.Count != 1 || concat.GetInt("axis", 0) != 0)
            throw Refuse($"the target of '{reshape.DisplayName}' is computed by {target.Producer?.OpType ?? "an input"}, which Shrink cannot rewrite");
        var offset = 0;
        for (var i = 0; i < concat.Inputs.Count; i++)
        {
            var length = ChannelFlow.Values(concat, i, _shapes)?.Length ?? throw Refuse($"input {i} of '{concat.DisplayName}' has an unknown length");
            if (pos < offset + length)
                return length == 1 ? new TargetEdit(reshape, fromEnd, inferred, old, i)
                    : throw Refuse($"the head entry of '{reshape.DisplayName}' is computed inside input {i} of '{concat.DisplayName}'");
            offset += length;
        }
        throw Refuse($"the target of '{reshape.DisplayName}' is shorter than it reads");
    }
}
