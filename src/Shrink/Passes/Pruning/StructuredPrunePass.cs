using Shrink.Ir;
using Shrink.Techniques;

namespace Shrink.Passes.Pruning;

/// <summary>
/// Options of structured pruning. <see cref="Method"/> ranks the channels of each group:
/// <c>l1-filter</c> / <c>l2-filter</c> (norm of the producing filters), <c>fpgm</c> (filters nearest
/// the geometric median of their layer, He et al. 2019), <c>bn-scale</c> (|γ| of the group's
/// BatchNorm), <c>slim</c> (the same after training with an L1 penalty on γ, Liu et al. 2017; the
/// training is the caller's), and the data-driven criteria whose scores the caller measures and passes
/// in <see cref="ChannelScores"/>: <c>apoz</c> (1 − average percentage of zeros after the activation,
/// Hu et al. 2016), <c>entropy</c> (entropy of the channel's pooled activation, Luo &amp; Wu 2017) and
/// <c>taylor-filter</c> (first-order Taylor estimate of the loss change, Molchanov et al. 2019).
/// <see cref="Sparsity"/> is the fraction of each group's channels removed (<see cref="PruneScope.Layer"/>)
/// or of all channels under one threshold (<see cref="PruneScope.Global"/>, for the γ criteria, whose
/// scores compare across layers).
/// </summary>
public sealed record StructuredPruneOptions
{
    public static readonly string[] Methods = { "l1-filter", "l2-filter", "fpgm", "bn-scale", "slim", "apoz", "entropy", "taylor-filter" };

    /// <summary>Criteria measured on data: their scores come in <see cref="ChannelScores"/>.</summary>
    public static readonly string[] Measured = { "apoz", "entropy", "taylor-filter" };

    public string Method { get; init; } = "l1-filter";
    public double Sparsity { get; init; }
    public PruneScope Scope { get; init; } = PruneScope.Layer;

    /// <summary>True: only zero the pruned channels (the "masked model"); false: cut them out of the graph.</summary>
    public bool MaskOnly { get; init; }

    /// <summary>
    /// Kept channel counts are rounded up to a multiple of this (1: no rounding). Odd widths such as
    /// 21 or 83 channels fall off ONNX Runtime's fast convolution paths: measured here, vgg-small with
    /// 35 % of its channels cut to 21/42/83 ran 0.81× as fast at batch 256 as the dense model.
    /// </summary>
    public int ChannelMultiple { get; init; } = 8;

    /// <summary>
    /// Channel counts by group name before the first round of an iterative schedule: <see cref="Sparsity"/>
    /// is then the fraction of those removed by the end of this round, not of the current count.
    /// </summary>
    public IReadOnlyDictionary<string, long>? OriginalChannels { get; init; }

    /// <summary>Measured criteria: one score per channel (higher = more important) by group name.</summary>
    public IReadOnlyDictionary<string, double[]>? ChannelScores { get; init; }

    public bool UsesGamma => Method is "bn-scale" or "slim";

    public StructuredPruneOptions Validate()
    {
        if (!Methods.Contains(Method)) throw new OptionsException($"unknown structured method '{Method}'; choose {string.Join(", ", Methods)}");
        UnstructuredPruneOptions.CheckSparsity(Sparsity, "--sparsity");
        if (ChannelMultiple is < 1 or > 256) throw new OptionsException($"--channel-multiple must be in [1, 256], got {ChannelMultiple}");
        if (Scope == PruneScope.Global && !UsesGamma)
            throw new OptionsException($"--scope global ranks channels of all layers against one threshold, which needs comparable scores: use it with bn-scale or slim, not {Method}");
        if (Measured.Contains(Method) && ChannelScores is null) throw new OptionsException($"--method {Method} measures channels on data; give --data");
        return this;
    }
}

/// <summary>
/// Structured pruning with physical removal: ranks the channels of every channel group
/// (<see cref="ChannelFlow"/>), removes the lowest-ranked filters from the producing layers, the
/// matching BatchNorm and depthwise entries, Split/Slice/Reshape sizes, and the input channels (or
/// Flatten feature blocks) of the consuming layers. The result is a smaller dense model whose outputs
/// equal the masked model's. Groups that cannot be followed safely, or whose removal would reroute
/// channels (a Slice of a channel shuffle, say), are left alone and reported in the context's notes.
/// Counters: <c>groups</c>, <c>skipped</c>, <c>channels</c>, <c>removed</c>.
/// </summary>
public sealed class StructuredPrunePass : Pass
{
    private readonly StructuredPruneOptions _options;

    public StructuredPrunePass(StructuredPruneOptions options) => _options = options.Validate();

    public override string Id => "prune-structured";

    public override string? CheckPreconditions(Model model) =>
        ChannelGroups.Find(model).Count == 0 ? "the model has nothing prunable by channel (no Conv, Gemm or MatMul producing channels)" : null;

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        var flow = ChannelFlow.Analyze(model);
        if (flow.Groups.Count == 0) throw new OptionsException(CheckPreconditions(model)!);
        foreach (var g in flow.Groups.Where(g => g.Blocker is not null)) context.Notes.Add($"left alone: {g.Name}: {g.Blocker}");
        // Rank every group on the original weights first: removing one group's channels slices the next layer's weights.
        var plan = Plan(flow, context);
        // Try the cut on a copy; a group whose removal would reroute channels is left alone and the cut retried.
        while (plan.Count > 0)
        {
            var copy = model.Clone();
            var trial = ChannelFlow.Analyze(copy);
            try
            {
                ChannelFlow.Apply(copy, trial, ById(trial, plan));
                break;
            }
            catch (ChannelConflictException e)
            {
                // Leave one group alone at a time, the most upstream first: its cut often moves the others' channels.
                var name = trial.Groups.Where(g => e.Groups.Contains(g.Id) && plan.ContainsKey(g.Key)).Select(g => g.Key).FirstOrDefault()
                           ?? plan.Keys.First(); // the cause lies further upstream
                plan.Remove(name);
                context.Notes.Add($"left alone: {name}: {e.Message}");
            }
        }
        if (plan.Count > 0)
        {
            if (_options.MaskOnly) Mask(flow, ById(flow, plan));
            else ChannelFlow.Apply(model, flow, ById(flow, plan));
        }
        var groups = flow.Groups.Where(g => plan.ContainsKey(g.Key)).ToList();
        return new PassResult(model, plan.Count > 0, new Dictionary<string, long>
        {
            ["groups"] = plan.Count, ["skipped"] = flow.Groups.Count - plan.Count,
            ["channels"] = groups.Sum(g => g.Channels), ["removed"] = groups.Sum(g => g.Channels - plan[g.Key].Length),
        })
        {
            Artifacts = new IArtifact[] { new KeptChannels { Groups = groups.ToDictionary(g => g.Key, g => new ChannelSelection(g.Channels, plan[g.Key])), MaskOnly = _options.MaskOnly } },
        };
    }

    private static Dictionary<int, long[]> ById(ChannelFlow flow, Dictionary<string, long[]> plan) =>
        flow.Groups.Where(g => plan.ContainsKey(g.Key)).ToDictionary(g => g.Id, g => plan[g.Key]);

    /// <summary>The kept channels of every group that loses some, by group name.</summary>
    private Dictionary<string, long[]> Plan(ChannelFlow flow, PassContext context)
    {
        var scored = new List<(ChannelGroup Group, double[] Scores)>();
        foreach (var g in flow.Groups.Where(g => g.Blocker is null))
        {
            if (Scores(flow, g) is { } s) scored.Add((g, s));
            else context.Notes.Add($"left alone: {g.Name}: " + (_options.UsesGamma ? $"no BatchNormalization in the group for {_options.Method}" : "no activations were measured for it"));
        }
        double? threshold = null;
        if (_options.Scope == PruneScope.Global && scored.Count > 0)
        {
            var all = scored.SelectMany(s => s.Scores).Order().ToArray();
            threshold = all[Math.Min(all.Length - 1, (int)Math.Floor(_options.Sparsity * all.Length))];
        }
        var plan = new Dictionary<string, long[]>();
        foreach (var (g, scores) in scored)
        {
            // Iterative schedules give the sparsity relative to the channel count before the first round.
            var reference = _options.OriginalChannels?.GetValueOrDefault(g.Key) is > 0 and var r ? r : g.Channels;
            var target = threshold is { } t ? scores.Count(s => s >= t) : Math.Min(g.Channels, reference - (long)Math.Round(_options.Sparsity * reference));
            if (Choose(g, scores, target) is { } keep) plan[g.Key] = keep;
        }
        return plan;
    }

    /// <summary>
    /// The channels to keep: about <paramref name="target"/>, rounded up to the channel multiple and to
    /// the group counts of grouped convolutions and shuffles around the group; null when none go.
    /// </summary>
    private long[]? Choose(ChannelGroup g, double[] scores, long target)
    {
        var blocks = g.PatternBlocks.Concat(g.EqualBlocks).Concat(g.Divisors).Distinct().ToList();
        var multiple = blocks.Aggregate((long)_options.ChannelMultiple, (m, b) => m / Gcd(m, b) * b);
        var c = g.Channels;
        var kept = Math.Min(c, Math.Max(Math.Min(multiple, c), (target + multiple - 1) / multiple * multiple));
        if (kept == c || blocks.Any(b => kept % b != 0)) return null;
        IEnumerable<int> Top(IEnumerable<int> candidates, Func<int, double> score, long count) =>
            candidates.OrderByDescending(score).ThenBy(i => i).Take((int)count);
        IEnumerable<int> keep;
        if (g.PatternBlocks.FirstOrDefault() is var pattern and > 0)
        {
            // A grouped convolution reads these channels: every conv group keeps the same positions.
            var size = (int)(c / pattern);
            var local = Top(Enumerable.Range(0, size), l => Enumerable.Range(0, pattern).Sum(j => scores[j * size + l]), kept / pattern).ToList();
            keep = Enumerable.Range(0, pattern).SelectMany(j => local.Select(l => j * size + l));
        }
        else if (g.EqualBlocks.FirstOrDefault() is var equal and > 0)
        {
            // A grouped convolution makes these channels: every conv group keeps as many.
            var size = (int)(c / equal);
            keep = Enumerable.Range(0, equal).SelectMany(j => Top(Enumerable.Range(j * size, size), i => scores[i], kept / equal));
        }
        else keep = Top(Enumerable.Range(0, (int)c), i => scores[i], kept);
        return keep.Order().Select(i => (long)i).ToArray();
    }

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);

    /// <summary>One score per channel (higher = more important), summed over the group's producers; null when the method has nothing to read.</summary>
    private double[]? Scores(ChannelFlow flow, ChannelGroup g)
    {
        var scores = new double[g.Channels];
        if (StructuredPruneOptions.Measured.Contains(_options.Method))
            return _options.ChannelScores!.TryGetValue(g.Key, out var measured) && measured.Length == g.Channels ? measured : null;
        if (_options.UsesGamma)
        {
            var found = false;
            foreach (var p in flow.Parameters.Where(p => p.Layer.OpType == "BatchNormalization" && p.Layer.Inputs[1] == p.Tensor))
            {
                var values = p.Tensor.Const!.ToDoubles();
                var refs = flow.Layouts[p.Input].Refs;
                for (var i = 0; i < refs.Length; i++)
                    if (flow.Root(refs[i].Group) == g.Id)
                    {
                        scores[refs[i].Index] += Math.Abs(values[i]);
                        found = true;
                    }
            }
            return found ? scores : null;
        }
        foreach (var p in g.Producers)
        {
            var rows = Rows(p.Weight.Const!, p.Axis);
            if (_options.Method == "fpgm")
            {
                // Sum of distances to the other filters: the smallest lie nearest the geometric median and are the most replaceable.
                for (var a = 0; a < rows.Length; a++)
                    for (var b = a + 1; b < rows.Length; b++)
                    {
                        var d = Math.Sqrt(rows[a].Zip(rows[b]).Sum(x => (x.First - x.Second) * (x.First - x.Second)));
                        scores[a] += d;
                        scores[b] += d;
                    }
            }
            else
                for (var c = 0; c < rows.Length; c++)
                    scores[c] += _options.Method == "l1-filter" ? rows[c].Sum(Math.Abs) : Math.Sqrt(rows[c].Sum(x => x * x));
        }
        return scores;
    }

    /// <summary>The slices of a tensor along an axis, each flattened.</summary>
    private static double[][] Rows(Tensor t, int axis)
    {
        var values = t.ToDoubles();
        var dims = t.Dims;
        long inner = 1;
        for (var i = axis + 1; i < dims.Length; i++) inner *= dims[i];
        var outer = values.LongLength / (dims[axis] * inner);
        var rows = new double[dims[axis]][];
        for (var c = 0; c < dims[axis]; c++)
        {
            var row = new double[outer * inner];
            for (long o = 0; o < outer; o++)
                Array.Copy(values, (o * dims[axis] + c) * inner, row, o * inner, inner);
            rows[c] = row;
        }
        return rows;
    }

    /// <summary>Zeroes the pruned channels where they are made and in the per-channel tensors along the way, so every consumer reads zeros there.</summary>
    private static void Mask(ChannelFlow flow, Dictionary<int, long[]> keep)
    {
        static void Zero(Value v, int axis, Func<long, bool> dropped)
        {
            var t = v.Const!;
            var values = t.AsFloats().ToArray();
            long inner = 1;
            for (var i = axis + 1; i < t.Dims.Length; i++) inner *= t.Dims[i];
            for (long i = 0; i < values.LongLength; i++)
                if (dropped(i / inner % t.Dims[axis])) values[i] = 0;
            v.Const = Tensor.FromFloats(t.Name, t.Dims, values);
        }
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
            if (p.Layer.OpType == "BatchNormalization" && p.Layer.Inputs[1] != p.Tensor && p.Layer.Inputs[2] != p.Tensor) continue;
            var refs = flow.Layouts[p.Input].Refs;
            Zero(p.Tensor, p.Axis, i => keep.TryGetValue(flow.Root(refs[i].Group), out var k) && Array.BinarySearch(k, (long)refs[i].Index) < 0);
        }
    }
}
