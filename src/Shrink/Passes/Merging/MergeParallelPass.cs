using Shrink.Ir;
using Shrink.Ops;
using Shrink.Runtime;
using Shrink.Techniques;
using Shrink.Text;

namespace Shrink.Passes.Merging;

/// <summary>
/// <c>merge-parallel</c>: layers that read the same tensor — the 1×1 branches of an inception block, the Q, K and V
/// projections of attention — become one wider layer followed by a Split: dense weights [K, Nᵢ] concatenated along N
/// (Gemms, or MatMuls with their bias Adds), convolutions with equal kernels, strides, padding and dilations concatenated
/// along their output channels, biases concatenated (zero for a layer without one). Outputs are those of the separate
/// layers bit for bit up to the order of float32 sums. With <see cref="ParallelKeep.WhenFaster"/> (the default) the
/// merged model is timed against the model as it came, in ONNX Runtime, interleaved (<see cref="LatencyComparison"/>), at
/// each batch size of <see cref="MergeParallelOptions.Batches"/>, and kept only when it is faster at all of them; otherwise
/// the model is returned unchanged and the notes say what was measured. Needs no data (random inputs for timing), no
/// training; shapes are unchanged. Counters: <c>merged</c> (groups), <c>layers</c>, <c>kept</c> (1 when the merges were kept).
/// Artifact: <see cref="LayerMerges"/>.
/// </summary>
public sealed class MergeParallelPass : Pass
{
    private readonly MergeParallelOptions _options;

    public MergeParallelPass(MergeParallelOptions options) => _options = options.Validate();

    public override string Id => "merge-parallel";

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        var original = _options.Keep == ParallelKeep.WhenFaster ? model.Clone() : null;
        ShapeInference.Run(model);
        var graph = model.Graph;
        var merges = new List<LayerMerge>();
        foreach (var group in Groups(graph)) merges.Add(Merge(graph, model.DefaultOpset, group));
        graph.RemoveUnusedInitializers();
        string? latency = null;
        var kept = merges.Count > 0;
        if (kept && original is not null)
        {
            (kept, latency) = Measure(original, model, context);
            if (!kept)
            {
                context.Notes.Add($"parallel layers left alone: {merges.Count} groups ({string.Join("; ", merges.Select(m => string.Join(", ", m.Layers)).Take(3))}" +
                    $"{(merges.Count > 3 ? "; …" : "")}) merged run {latency}");
                model = original;
            }
        }
        var stats = new Dictionary<string, long> { ["merged"] = kept ? merges.Count : 0, ["layers"] = kept ? merges.Sum(m => m.Layers.Count) : 0, ["kept"] = kept ? 1 : 0 };
        var artifact = new LayerMerges { Merges = kept ? merges : Array.Empty<LayerMerge>(), ParallelLatency = latency };
        return new PassResult(model, kept, stats) { Artifacts = new IArtifact[] { artifact } };
    }

    /// <summary>Groups of two or more layers that read one tensor and can be concatenated.</summary>
    private static IEnumerable<List<LinearUnit>> Groups(Graph graph)
    {
        var units = graph.TopologicalOrder().Select(n => LinearUnit.At(graph, n, out _)).OfType<LinearUnit>().ToList();
        return units.GroupBy(u => (u.Input, Signature(u))).Where(g => g.Key.Item2 is not null && g.Count() > 1).Select(g => g.ToList()).ToList();
    }

    /// <summary>What siblings must share to be concatenated: kind, form, input features and the convolution's attributes; null when a layer cannot be.</summary>
    private static string? Signature(LinearUnit u)
    {
        if (!u.Conv) return $"{u.Head.OpType}:{u.InputChannels}";
        if (u.Groups != 1) return null;
        var attributes = u.Head.Attributes.Where(a => a.Name != "group").OrderBy(a => a.Name, StringComparer.Ordinal).Select(a => a.ToString());
        return $"Conv:{string.Join(",", u.WeightDims.Skip(1))}:{string.Join(";", attributes)}";
    }

    private static LayerMerge Merge(Graph graph, long opset, List<LinearUnit> group)
    {
        var first = group[0];
        var sizes = group.Select(u => u.Channels).ToArray();
        var total = sizes.Sum();
        var (dims, weight) = first.Conv ? ConcatConv(group, total) : ConcatDense(group, total);
        double[]? bias = group.Any(u => u.Bias is not null) ? group.SelectMany(u => u.Bias ?? new double[u.Channels]).ToArray() : null;
        var form = first.Conv ? LayerForm.Conv : first.Head.OpType == "Gemm" ? LayerForm.Gemm : LayerForm.MatMul;
        var anchor = first.Head;  // the earliest in topological order
        var name = first.Name + "_parallel";
        var wide = LinearUnitWriter.Write(graph, anchor, form, name, first.Input, dims, weight, bias, first.Head.Attributes);
        var split = new Node("Split", "", graph.UniqueName(name + "_split"));
        split.AddInput(wide);
        // Features are on the last axis of a dense output: its index when the rank is known (Split before opset 11 takes no negative axis).
        var axis = first.Conv ? 1L : first.Output.Shape?.Rank is { } rank ? rank - 1 : -1;
        split.Attributes.Add(Ir.Attribute.Int("axis", axis));
        if (opset >= 13) split.AddInput(graph.AddInitializer(Tensor.FromInt64s(name + ".split", new[] { (long)sizes.Length }, sizes)));
        else split.Attributes.Add(Ir.Attribute.Ints("split", sizes));
        var outputs = group.Select(u => split.AddOutput(new Value(graph.UniqueName(u.Output.Name + "_part"), DataType.Float, u.Output.Shape))!).ToList();
        graph.InsertBefore(anchor, split);
        for (var i = 0; i < group.Count; i++) LinearUnitWriter.Retire(graph, group[i].Output, outputs[i], group[i].Nodes);
        var before = group.Sum(u => u.Parameters);
        return new LayerMerge(MergeKind.Parallel, group.Select(u => u.Name).ToList(), $"{wide.Producer!.DisplayName} + {split.Name}", before, weight.LongLength + (bias?.LongLength ?? 0));
    }

    /// <summary>Dense weights [K, Nᵢ] side by side: [K, ΣNᵢ].</summary>
    private static (long[] Dims, double[] Weight) ConcatDense(List<LinearUnit> group, long total)
    {
        var k = group[0].InputChannels;
        var w = new double[k * total];
        long offset = 0;
        foreach (var u in group)
        {
            var n = u.Channels;
            for (long i = 0; i < k; i++) Array.Copy(u.Weight, i * n, w, i * total + offset, n);
            offset += n;
        }
        return (new[] { k, total }, w);
    }

    /// <summary>Convolution weights [Oᵢ, I, k…] one after the other: [ΣOᵢ, I, k…].</summary>
    private static (long[] Dims, double[] Weight) ConcatConv(List<LinearUnit> group, long total) =>
        (new[] { total }.Concat(group[0].WeightDims.Skip(1)).ToArray(), group.SelectMany(u => u.Weight).ToArray());

    /// <summary>Times the merged model against the original: kept when faster at every batch size; the verdicts in words.</summary>
    private (bool Faster, string Words) Measure(Model original, Model merged, PassContext context)
    {
        var options = context.Runner;
        using var a = OnnxRunner.FromModel(original, options, "the model before merging");
        using var b = OnnxRunner.FromModel(merged, options, "the merged model");
        try
        {
            var rows = LatencyComparison.Compare(a, b, _options.Batches, rounds: _options.Rounds, runsPerRound: _options.RunsPerRound);
            return (rows.All(r => r.Verdict == LatencyVerdict.Faster), string.Join(", ", rows.Select(r => $"{r.Words} at batch {r.Batch}")));
        }
        catch (OptionsException e)
        {
            var words = context.Naming is null ? e.Message : e.Wording.Render(context.Naming);
            return (false, $"unmeasured ({words}; {OptionName.Of(nameof(MergeParallelOptions.Keep))} always keeps them without measuring)");
        }
    }
}
