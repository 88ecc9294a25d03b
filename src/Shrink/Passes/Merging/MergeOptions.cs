using Shrink.Techniques;

namespace Shrink.Passes.Merging;

/// <summary>The three kinds of layer merging.</summary>
public enum MergeKind
{
    /// <summary>Consecutive linear layers with nothing nonlinear between them, into one (<see cref="MergeConsecutivePass"/>).</summary>
    Consecutive,

    /// <summary>Layers that read the same tensor, into one wider layer and a Split (<see cref="MergeParallelPass"/>).</summary>
    Parallel,

    /// <summary>Near-identical weight tensors, into one tensor that several layers read (<see cref="ShareWeightsPass"/>).</summary>
    Share,
}

/// <summary>When <see cref="MergeParallelPass"/> keeps the parallel layers it merged.</summary>
public enum ParallelKeep
{
    /// <summary>Only when ONNX Runtime runs the merged model faster at every measured batch size (interleaved, IQRs apart).</summary>
    WhenFaster,

    /// <summary>Always (no measurement).</summary>
    Always,
}

/// <summary>Options of <c>merge-consecutive</c>.</summary>
public sealed record MergeConsecutiveOptions
{
    /// <summary>Merge a pair even when the merged layer has more parameters than the two had (a depthwise conv and its pointwise one, a low-rank pair).</summary>
    public bool Force { get; init; }
}

/// <summary>Options of <c>merge-parallel</c>.</summary>
public sealed record MergeParallelOptions
{
    public ParallelKeep Keep { get; init; } = ParallelKeep.WhenFaster;

    /// <summary>Batch sizes the merged model must be faster at (with <see cref="ParallelKeep.WhenFaster"/>).</summary>
    public IReadOnlyList<int> Batches { get; init; } = new[] { 1 };

    /// <summary>Rounds of the interleaved latency measurement (each runs both models <see cref="RunsPerRound"/> times).</summary>
    public int Rounds { get; init; } = 10;

    public int RunsPerRound { get; init; } = 5;

    public MergeParallelOptions Validate()
    {
        if (Batches.Count == 0 || Batches.Any(b => b < 1)) throw OptionsException.For(nameof(Batches), $"must be one or more batch sizes of at least 1, got [{string.Join(", ", Batches)}]");
        if (Rounds < 2) throw OptionsException.For(nameof(Rounds), $"must be at least 2, got {Rounds}");
        if (RunsPerRound < 1) throw OptionsException.For(nameof(RunsPerRound), $"must be at least 1, got {RunsPerRound}");
        return this;
    }
}

/// <summary>Options of <c>share-weights</c>.</summary>
public sealed record ShareWeightsOptions
{
    /// <summary>
    /// Two tensors of one shape are shared when their largest difference is at most this fraction of the larger of their
    /// largest magnitudes (0: bit-identical values only). Each layer then computes with weights at most that far off.
    /// </summary>
    public double Tolerance { get; init; } = 1e-6;

    /// <summary>Tensors with fewer elements are left alone (scalars and tiny vectors save nothing).</summary>
    public long MinElements { get; init; } = 16;

    public ShareWeightsOptions Validate()
    {
        if (!(Tolerance >= 0 && Tolerance < 1)) throw OptionsException.For(nameof(Tolerance), $"must be in [0, 1), got {Tolerance}");
        if (MinElements < 1) throw OptionsException.For(nameof(MinElements), $"must be at least 1, got {MinElements}");
        return this;
    }
}

/// <summary>Options of the <c>merge</c> technique: which kinds run, and each pass's options.</summary>
public sealed record MergeOptions
{
    /// <summary>The kinds of merging to run, in the order consecutive, parallel, share; null runs all three.</summary>
    public IReadOnlySet<MergeKind>? Only { get; init; }

    public MergeConsecutiveOptions Consecutive { get; init; } = new();

    public MergeParallelOptions Parallel { get; init; } = new();

    public ShareWeightsOptions Share { get; init; } = new();

    /// <summary>The kinds that run, in order.</summary>
    public IReadOnlyList<MergeKind> Kinds => Enum.GetValues<MergeKind>().Where(k => Only?.Contains(k) ?? true).ToList();

    public MergeOptions Validate()
    {
        if (Only is { Count: 0 }) throw OptionsException.For(nameof(Only), "names no kind of merging; give consecutive, parallel or share");
        Parallel.Validate();
        Share.Validate();
        return this;
    }
}

/// <summary>One merge: its kind, the layers (or tensors) it merged, what they became and the parameters before and after.</summary>
public sealed record LayerMerge(MergeKind Kind, IReadOnlyList<string> Layers, string Into, long ParametersBefore, long ParametersAfter)
{
    public string Describe() => $"{string.Join(" + ", Layers)} → {Into}";
}

/// <summary>The <c>layer-merges</c> artifact: every merge made, in order, and what was measured of the parallel ones.</summary>
public sealed record LayerMerges : IArtifact
{
    public string Kind => "layer-merges";
    public int Version => 1;

    public IReadOnlyList<LayerMerge> Merges { get; init; } = Array.Empty<LayerMerge>();

    /// <summary>The parallel merges' latency in words (<c>1.12x faster at batch 1</c>), or null when not measured.</summary>
    public string? ParallelLatency { get; init; }
}
