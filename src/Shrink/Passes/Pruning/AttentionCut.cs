using Shrink.Ir;

namespace Shrink.Passes.Pruning;

/// <summary>
/// Removes attention heads from a block found by <see cref="AttentionHeads"/>, in place: head h's d columns of the
/// query, key and value weights and biases (of each part of a packed in_proj) and its d rows of the output
/// projection's weight go; the Reshape targets that carry the head count or the width H·d are rewritten (to −1 where
/// ONNX Runtime can infer them), and the Slice bounds or Split sizes of a packed in_proj move to the new thirds. The
/// scale 1/√d stays, as d does. <see cref="Mask"/> zeroes the same weights instead (the masked model: shapes kept).
/// </summary>
public static class AttentionCut
{
    /// <summary>Cuts <paramref name="block"/> down to the heads <paramref name="kept"/> (ascending) in <paramref name="model"/>, the model it was found in.</summary>
    public static void Apply(Model model, AttentionBlock block, long[] kept)
    {
        var features = Features(block, kept);
        foreach (var p in block.Projections)
        {
            var columns = block.Packed ? Enumerable.Range(0, 3).SelectMany(part => features.Select(f => part * (long)block.Width + f)).ToArray() : features;
            ChannelCut.SliceTensor(p.Weight, p.OutAxis, columns);
            if (p.Bias is not null) ChannelCut.SliceTensor(p.Bias, 0, columns);
        }
        ChannelCut.SliceTensor(block.OutputWeight, block.OutputAxis, features);
        if (block.Packed)
            foreach (var p in new[] { block.Query, block.Key, block.Value }) Retake(model, p, features.Length);
        foreach (var edit in block.Targets)
        {
            var unit = edit.FromEnd == 2 ? block.Heads : block.Width;
            var now = edit.FromEnd == 2 ? kept.Length : features.Length;
            Write(model, edit, edit.Inferred ? -1 : edit.Old / unit * now);
        }
        ForgetShapes(block);
    }

    /// <summary>Clears the shapes known inside the block (from the projections up to the output projection), which the cut made stale; shape inference sets them again.</summary>
    private static void ForgetShapes(AttentionBlock block)
    {
        var queue = new Queue<Value>(block.Projections.SelectMany(p => p.Layer.Outputs).OfType<Value>());
        var seen = new HashSet<Value>();
        while (queue.Count > 0 && seen.Count < 4096)
        {
            var v = queue.Dequeue();
            if (!seen.Add(v)) continue;
            v.Shape = null;
            foreach (var (n, _) in v.Uses.Where(u => u.Node != block.Output))
                foreach (var o in n.Outputs.OfType<Value>()) queue.Enqueue(o);
        }
    }

    /// <summary>Zeroes the pruned heads' weights (query, key, value columns and biases; output rows) in place.</summary>
    public static void Mask(AttentionBlock block, long[] kept)
    {
        var keptFeatures = Features(block, kept).ToHashSet();
        bool Dropped(long f) => !keptFeatures.Contains(f % block.Width);
        foreach (var p in block.Projections)
        {
            ChannelMask.Zero(p.Weight, p.OutAxis, Dropped);
            if (p.Bias is not null) ChannelMask.Zero(p.Bias, 0, Dropped);
        }
        ChannelMask.Zero(block.OutputWeight, block.OutputAxis, Dropped);
    }

    /// <summary>The features h·d … h·d + d − 1 of each kept head h.</summary>
    public static long[] Features(AttentionBlock block, long[] kept) =>
        kept.SelectMany(h => Enumerable.Range(0, block.HeadSize).Select(j => h * block.HeadSize + j)).ToArray();

    /// <summary>The Slice bounds or Split sizes that take a third of the packed projection, moved to the cut thirds (bounds computed from Shape follow by themselves).</summary>
    private static void Retake(Model model, HeadProjection p, int width)
    {
        var take = p.Take!;
        if (take.OpType == "Split")
        {
            var sizes = new long[] { width, width, width };
            if (take.Inputs.ElementAtOrDefault(1) is { Name.Length: > 0 }) take.SetInput(1, model.Graph.AddInitializer(Tensor.FromInt64s(take.DisplayName + "_heads", new long[] { 3 }, sizes)));
            else if (take.GetInts("split") is not null) take.SetAttribute(Ir.Attribute.Ints("split", sizes));
            return;
        }
        for (var i = 1; i <= 2; i++)
            if (Graph.ConstantOf(take.Inputs[i]) is { } bound)
            {
                var value = (p.Part + i - 1) * (long)width;
                take.SetInput(i, model.Graph.AddInitializer(Tensor.FromInt64s(take.DisplayName + (i == 1 ? "_starts" : "_ends"), bound.Dims, new[] { value })));
            }
    }

    private static void Write(Model model, TargetEdit edit, long value)
    {
        var reshape = edit.Reshape;
        if (edit.ConcatInput < 0)
        {
            var t = Graph.ConstantOf(reshape.Inputs[1])!;
            var values = t.ToInt64s();
            values[^edit.FromEnd] = value;
            reshape.SetInput(1, model.Graph.AddInitializer(Tensor.FromInt64s(reshape.DisplayName + "_shape", t.Dims, values)));
            return;
        }
        var concat = reshape.Inputs[1]!.Producer!;
        concat.SetInput(edit.ConcatInput, model.Graph.AddInitializer(Tensor.FromInt64s(concat.DisplayName + "_heads", new long[] { 1 }, new[] { value })));
    }
}
