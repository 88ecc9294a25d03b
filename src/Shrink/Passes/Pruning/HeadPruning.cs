using Shrink.Ir;
using Shrink.Ops;
using Shrink.Passes.Cleanup;
using Shrink.Runtime;

namespace Shrink.Passes.Pruning;

/// <summary>
/// The attention-head part of structured pruning (<see cref="StructuredPrunePass"/>): every attention block
/// <see cref="AttentionHeads"/> finds keeps max(1, H − round(sparsity · H)) of its H heads — the highest-scored, no
/// rounding to a multiple (a head is already d features wide; <see cref="StructuredPruneOptions.ChannelMultiple"/>
/// does not apply) — and the others are cut (<see cref="AttentionCut"/>) or zeroed (<see cref="StructuredPruneOptions.MaskOnly"/>).
/// Scores per head, from the weights of its Q, K and V columns and its output-projection rows taken as one vector:
/// l1-filter its L1 norm, l2-filter its L2 norm, fpgm its summed distance to the block's other heads; the measured
/// criteria read <see cref="StructuredPruneOptions.ChannelScores"/> under the block's name; the BatchNorm ones have
/// nothing to read. Before anything is written the cut is checked: in ONNX Runtime, on seeded random inputs, the
/// cut model must equal the masked model within 1e-4 of the output scale; a block for which it does not is left
/// alone with the reason.
/// </summary>
public static class HeadPruning
{
    /// <summary>Relative tolerance of the cut-versus-masked check (of the largest |output| of the masked model).</summary>
    public const double Tolerance = 1e-4;

    /// <summary>Prunes the heads of every attention block of <paramref name="model"/> in place; what was found, kept and left alone.</summary>
    public static HeadSelection Run(Model model, StructuredPruneOptions options, RunnerOptions runner, LeftAlone alone)
    {
        var (blocks, refused) = AttentionHeads.Find(model);
        foreach (var (block, reason) in refused) alone.Add(block, reason);
        var plan = new Dictionary<string, long[]>();
        foreach (var b in blocks)
        {
            if (Score(b, options) is not { } scores) alone.Add(b.Name, Missing(options.Method));
            else if (Keep(b, scores, options) is { } keep) plan[b.Name] = keep;
        }
        if (plan.Count > 0 && !options.MaskOnly) CheckCuts(model, plan, runner, alone);
        foreach (var b in blocks.Where(b => plan.ContainsKey(b.Name)))
            if (options.MaskOnly) AttentionCut.Mask(b, plan[b.Name]);
            else AttentionCut.Apply(model, b, plan[b.Name]);
        if (plan.Count > 0 && !options.MaskOnly)
        {
            new RemoveUnusedPass().RunInPlace(model, new PassContext());
            ShapeInference.Run(model);
        }
        return new HeadSelection(blocks, plan);
    }

    /// <summary>The scores of the block's heads (higher = more important), or null when the method has nothing to read.</summary>
    public static double[]? Score(AttentionBlock block, StructuredPruneOptions options)
    {
        if (options.Method.IsMeasured())
            return options.ChannelScores?.GetValueOrDefault(block.Name) is { } measured && measured.Length == block.Heads ? measured : null;
        if (options.UsesGamma) return null;
        var vectors = HeadWeights(block);
        return options.Method switch
        {
            PruneMethod.L1Filter => vectors.Select(v => v.Sum(Math.Abs)).ToArray(),
            PruneMethod.L2Filter => vectors.Select(v => Math.Sqrt(v.Sum(x => x * x))).ToArray(),
            _ => vectors.Select(a => vectors.Sum(b => Math.Sqrt(a.Zip(b).Sum(p => (p.First - p.Second) * (p.First - p.Second))))).ToArray(),
        };
    }

    private static string Missing(PruneMethod method) => method.IsMeasured()
        ? $"no scores were measured for its heads ({method.Name()} measures channels)"
        : $"{method.Name()} reads BatchNorm scales, which an attention block has none of";

    /// <summary>The kept heads (ascending), or null when none go.</summary>
    private static long[]? Keep(AttentionBlock block, double[] scores, StructuredPruneOptions options)
    {
        var reference = options.OriginalChannels?.GetValueOrDefault(block.Name) is > 0 and var r ? r : block.Heads;
        var target = Math.Max(1, Math.Min(block.Heads, reference - (long)Math.Round(options.Sparsity * reference)));
        if (target >= block.Heads) return null;
        return Enumerable.Range(0, block.Heads).OrderByDescending(h => scores[h]).ThenBy(h => h).Take((int)target).Order().Select(h => (long)h).ToArray();
    }

    /// <summary>Each head's weights: its features' rows of Q, K and V (each part of a packed in_proj), then its rows of the output projection.</summary>
    private static double[][] HeadWeights(AttentionBlock block)
    {
        var heads = Enumerable.Range(0, block.Heads).Select(_ => new List<double>()).ToArray();
        void Add(double[][] rows, int offset)
        {
            for (var h = 0; h < block.Heads; h++)
                for (var f = h * block.HeadSize; f < (h + 1) * block.HeadSize; f++) heads[h].AddRange(rows[offset + f]);
        }
        foreach (var p in block.Projections)
        {
            var rows = ChannelImportance.Rows(p.Weight.Const!, p.OutAxis);
            foreach (var part in block.Packed ? new[] { 0, 1, 2 } : new[] { 0 }) Add(rows, part * block.Width);
        }
        Add(ChannelImportance.Rows(block.OutputWeight.Const!, block.OutputAxis), 0);
        return heads.Select(h => h.ToArray()).ToArray();
    }

    /// <summary>
    /// Checks the cut of every planned block against its masked model in ONNX Runtime: all at once first, and when
    /// that differs, block by block; a block whose cut differs (or fails) is removed from the plan and noted.
    /// </summary>
    private static void CheckCuts(Model model, Dictionary<string, long[]> plan, RunnerOptions runner, LeftAlone alone)
    {
        if (CutDiffers(model, plan, runner) is null) return;
        foreach (var name in plan.Keys.ToList())
            if (CutDiffers(model, new Dictionary<string, long[]> { [name] = plan[name] }, runner) is { } reason)
            {
                plan.Remove(name);
                alone.Add(name, reason);
            }
    }

    /// <summary>Why the cut of the planned blocks does not compute what their masked model computes, or null when it does.</summary>
    internal static string? CutDiffers(Model model, IReadOnlyDictionary<string, long[]> plan, RunnerOptions runner)
    {
        var (masked, cut) = (model.Clone(), model.Clone());
        try
        {
            foreach (var b in AttentionHeads.Find(masked).Blocks.Where(b => plan.ContainsKey(b.Name))) AttentionCut.Mask(b, plan[b.Name]);
            foreach (var b in AttentionHeads.Find(cut).Blocks.Where(b => plan.ContainsKey(b.Name))) AttentionCut.Apply(cut, b, plan[b.Name]);
            new RemoveUnusedPass().RunInPlace(cut, new PassContext());
            ShapeInference.Run(cut);
            return HeadCheck.Compare(masked, cut, runner);
        }
        catch (Exception e) when (e is ShrinkUserException or InvalidOperationException or ArgumentException)
        {
            return $"its cut could not be checked in ONNX Runtime ({Text.Message.OneLine(e.Message)})";
        }
    }
}

/// <summary>What <see cref="HeadPruning.Run"/> found and kept: every attention block followed, and the kept heads of those that lost some, by block name.</summary>
public sealed record HeadSelection(IReadOnlyList<AttentionBlock> Blocks, IReadOnlyDictionary<string, long[]> Kept)
{
    /// <summary>The Q, K and V layers of the blocks followed: their channels are heads, pruned as heads and not by channel.</summary>
    public bool Covers(ChannelGroup group) =>
        group.Producers.All(p => Blocks.Any(b => b.Query.Layer == p.Layer || b.Key.Layer == p.Layer || b.Value.Layer == p.Layer));

    public long HeadsBefore => Blocks.Where(b => Kept.ContainsKey(b.Name)).Sum(b => (long)b.Heads);

    public long HeadsRemoved => Blocks.Where(b => Kept.ContainsKey(b.Name)).Sum(b => (long)(b.Heads - Kept[b.Name].Length));
}
