using Shrink.Ir;
using Shrink.Passes.Cleanup;
using Shrink.Techniques;

namespace Shrink.Passes.Pruning;

/// <summary>
/// Options of structured pruning. <see cref="Method"/> ranks the channels of each group
/// (<see cref="ChannelImportance"/>): <c>l1-filter</c> / <c>l2-filter</c> (norm of the producing filters),
/// <c>fpgm</c> (filters nearest the geometric median of their layer, He et al. 2019), <c>bn-scale</c> (|γ| of
/// the group's BatchNorm), <c>slim</c> (the same after training with an L1 penalty on γ, Liu et al. 2017; the
/// training is the caller's), and the data-driven criteria whose scores the caller measures and passes in
/// <see cref="ChannelScores"/>: <c>apoz</c> (1 − average percentage of zeros after the activation, Hu et al.
/// 2016), <c>entropy</c> (entropy of the channel's pooled activation, Luo &amp; Wu 2017) and <c>taylor-filter</c>
/// (first-order Taylor estimate of the loss change, Molchanov et al. 2019). <see cref="Sparsity"/> is the
/// fraction of each group's channels removed (<see cref="PruneScope.Layer"/>) or of all channels under one
/// threshold (<see cref="PruneScope.Global"/>, for the γ criteria, whose scores compare across layers).
/// </summary>
public sealed record StructuredPruneOptions
{
    public PruneMethod Method { get; init; } = PruneMethod.L1Filter;
    public double Sparsity { get; init; }
    public PruneScope Scope { get; init; } = PruneScope.Layer;

    /// <summary>
    /// Layer scope: the fraction of channels removed per channel group, by group key (<see cref="ChannelGroup.Key"/>, the
    /// producers' layer names joined by "+"); groups not named are pruned at <see cref="Sparsity"/>.
    /// </summary>
    public IReadOnlyDictionary<string, double>? GroupSparsity { get; init; }

    /// <summary>The fraction of <paramref name="key"/>'s channels to remove: its own in <see cref="GroupSparsity"/>, else <see cref="Sparsity"/>.</summary>
    public double SparsityOf(string key) => GroupSparsity is { } groups && groups.TryGetValue(key, out var s) ? s : Sparsity;

    /// <summary>True: only zero the pruned channels (the "masked model"); false: cut them out of the graph.</summary>
    public bool MaskOnly { get; init; }

    /// <summary>
    /// Kept channel counts are rounded up to a multiple of this (1: no rounding). Odd widths such as
    /// 21 or 83 channels fall off ONNX Runtime's fast convolution paths: measured here, vgg-small with
    /// 35 % of its channels cut to 21/42/83 ran 0.81× as fast at batch 256 as the dense model.
    /// </summary>
    public int ChannelMultiple { get; init; } = 8;

    /// <summary>
    /// Channel counts by group key before the first round of an iterative schedule: <see cref="Sparsity"/>
    /// is then the fraction of those removed by the end of this round, not of the current count.
    /// </summary>
    public IReadOnlyDictionary<string, long>? OriginalChannels { get; init; }

    /// <summary>Measured criteria: one score per channel (higher = more important) by group key.</summary>
    public IReadOnlyDictionary<string, double[]>? ChannelScores { get; init; }

    public bool UsesGamma => Method.UsesGamma();

    public StructuredPruneOptions Validate()
    {
        if (!Method.IsStructured())
            throw OptionsException.For(nameof(Method), $"{Method.Name()} is not a structured pruning method; choose {string.Join(", ", PruneMethods.Structured.Select(m => m.Name()))}");
        UnstructuredPruneOptions.CheckSparsity(Sparsity);
        foreach (var (group, s) in GroupSparsity ?? new Dictionary<string, double>())
            if (double.IsNaN(s) || s < 0 || s >= 1) throw OptionsException.For(nameof(GroupSparsity), $"gives channel group '{group}' {s}; a fraction of channels must be in [0, 1), e.g. 0.5");
        if (GroupSparsity is not null && Scope == PruneScope.Global)
            throw OptionsException.For(nameof(GroupSparsity), "sets each group's own fraction, which global scope (one threshold over all groups) cannot honour; use layer scope");
        if (ChannelMultiple is < 1 or > 256) throw OptionsException.For(nameof(ChannelMultiple), $"must be in [1, 256], got {ChannelMultiple}");
        if (Scope == PruneScope.Global && !UsesGamma)
            throw OptionsException.For(nameof(Scope), $"global ranks channels of all layers against one threshold, which needs comparable scores: use it with bn-scale or slim, not {Method.Name()}");
        if (Method.IsMeasured() && ChannelScores is null) throw OptionsException.For(nameof(ChannelScores), $"are missing: {Method.Name()} measures channels on data");
        return this;
    }
}

/// <summary>
/// Structured pruning with physical removal, in the three parts Torch-Pruning keeps apart: the dependency
/// analysis (<see cref="ChannelFlow"/>: which channels go together), the importance criterion
/// (<see cref="ChannelImportance"/>) with the sparsity allocation (<see cref="ChannelAllocation"/>), and the
/// per-op cutting (<see cref="ChannelCut"/>) — the lowest-ranked filters go from the producing layers, with the
/// matching BatchNorm and depthwise entries, Split/Slice/Reshape sizes, and the input channels (or Flatten
/// feature blocks) of the consuming layers. The result is a smaller dense model whose outputs equal the masked
/// model's (<see cref="ChannelMask"/>). Groups that cannot be followed safely, or whose removal would reroute
/// channels (a Slice of a channel shuffle, say), are left alone and reported in the context's notes. Transformer attention
/// blocks lose whole heads first (<see cref="HeadPruning"/>, each block's cut checked against its masked model in ONNX
/// Runtime); their feed-forward neurons are channel groups; the residual stream is left alone (<see cref="ResidualStream"/>).
/// Data-free except for the measured criteria; changes shapes; runs in ONNX Runtime.
/// Counters: <c>groups</c>, <c>skipped</c>, <c>channels</c>, <c>removed</c>; with attention blocks also <c>heads</c> and
/// <c>heads-removed</c> (of the blocks that lost some).
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
        // Each layer must own its weights and biases: exports share equal ones (all-zero biases) through Identity nodes.
        new UnshareInitializersPass().RunInPlace(model, context);
        var alone = new LeftAlone();
        // Attention heads first (checked in ONNX Runtime, cut or masked), then the channel groups of what they leave.
        var heads = HeadPruning.Run(model, _options, context.Runner, alone);
        var flow = ChannelFlow.Analyze(model);
        if (flow.Groups.Count == 0 && heads.Kept.Count == 0) throw new OptionsException(CheckPreconditions(model) ?? "the model has no channel group or attention head to prune");
        foreach (var g in flow.Groups.Where(g => g.Blocker is not null && !heads.Covers(g)))
            alone.Add(g.Name, ResidualStream.Writes(g) ? ResidualStream.Reason : g.Blocker!);
        // Rank every group on the original weights first: removing one group's channels slices the next layer's weights.
        var plan = ChannelAllocation.Plan(flow, _options, ChannelImportance.For(_options.Method, _options.ChannelScores), alone);
        LeaveConflictsAlone(model, plan, alone);
        alone.WriteTo(context);
        if (plan.Count > 0)
        {
            if (_options.MaskOnly) ChannelMask.Apply(flow, ById(flow, plan));
            else ChannelCut.Apply(flow, ById(flow, plan));
        }
        var groups = flow.Groups.Where(g => plan.ContainsKey(g.Key)).ToList();
        var stats = new Dictionary<string, long>
        {
            ["groups"] = plan.Count, ["skipped"] = flow.Groups.Count - plan.Count,
            ["channels"] = groups.Sum(g => g.Channels), ["removed"] = groups.Sum(g => g.Channels - plan[g.Key].Length),
        };
        if (heads.Blocks.Count > 0) (stats["heads"], stats["heads-removed"]) = (heads.HeadsBefore, heads.HeadsRemoved);
        var kept = groups.ToDictionary(g => g.Key, g => new ChannelSelection(g.Channels, plan[g.Key]));
        foreach (var b in heads.Blocks.Where(b => heads.Kept.ContainsKey(b.Name))) kept[b.Name] = new ChannelSelection(b.Heads, heads.Kept[b.Name]);
        return new PassResult(model, plan.Count > 0 || heads.Kept.Count > 0, stats)
        {
            Artifacts = new IArtifact[] { new KeptChannels { Groups = kept, MaskOnly = _options.MaskOnly } },
        };
    }

    /// <summary>Tries the cut on a copy; a group whose removal would reroute channels is left alone (noted) and the cut retried.</summary>
    private static void LeaveConflictsAlone(Model model, Dictionary<string, long[]> plan, LeftAlone alone)
    {
        while (plan.Count > 0)
        {
            var trial = ChannelFlow.Analyze(model.Clone());
            try
            {
                ChannelCut.Apply(trial, ById(trial, plan));
                return;
            }
            catch (ChannelConflictException e)
            {
                // Leave one group alone at a time, the most upstream first: its cut often moves the others' channels.
                var name = trial.Groups.Where(g => e.Groups.Contains(g.Id) && plan.ContainsKey(g.Key)).Select(g => g.Key).FirstOrDefault()
                           ?? plan.Keys.First(); // the cause lies further upstream
                plan.Remove(name);
                alone.Add(name, e.Message);
            }
        }
    }

    private static Dictionary<int, long[]> ById(ChannelFlow flow, Dictionary<string, long[]> plan) =>
        flow.Groups.Where(g => plan.ContainsKey(g.Key)).ToDictionary(g => g.Id, g => plan[g.Key]);
}
