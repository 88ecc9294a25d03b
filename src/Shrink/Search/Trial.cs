namespace Shrink.Search;

/// <summary>Where a trial is in its life. Only <see cref="Pending"/> → <see cref="Running"/> → one of the last three.</summary>
public enum TrialStatus
{
    /// <summary>Written, waiting to be claimed (new, or given back after its run was interrupted).</summary>
    Pending,
    /// <summary>Claimed by a worker, which holds it until its lease expires.</summary>
    Running,
    /// <summary>Evaluated; its metrics are final.</summary>
    Completed,
    /// <summary>The evaluation threw or returned a metric that is not a number; <see cref="Trial.Error"/> says why.</summary>
    Failed,
    /// <summary>Stopped early by the objective (its metrics are those it reached).</summary>
    Pruned,
}

/// <summary>
/// One evaluation of a configuration at a budget, as a trial store holds it. <see cref="Number"/> counts trials in
/// the order they were written (0, 1, …), the order strategies read the history in. <see cref="Budget"/> is the
/// share of the full evaluation (epochs, validation samples) in (0, 1]: 1 unless successive halving runs it
/// smaller. (<see cref="Hash"/>, <see cref="Budget"/>) is unique in a study.
/// </summary>
public sealed record Trial
{
    public required long Id { get; init; }
    public required int Number { get; init; }
    public required Configuration Configuration { get; init; }
    public string Hash => Configuration.Hash;
    public required double Budget { get; init; }
    public required TrialStatus Status { get; init; }
    /// <summary>How the strategy made it: "random", "mutation", "neighbour", "promotion", "enumeration", "enqueued".</summary>
    public required string Origin { get; init; }
    /// <summary>The trial it was made from (the mutated winner, the promoted trial), or null.</summary>
    public int? Parent { get; init; }
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
    public IReadOnlyDictionary<string, string> Attributes { get; init; } = new Dictionary<string, string>();
    public required DateTimeOffset Created { get; init; }
    public DateTimeOffset? Started { get; init; }
    public DateTimeOffset? Finished { get; init; }
    /// <summary>Seconds the evaluation took, as the worker measured it.</summary>
    public double? Seconds { get; init; }
    public string? ModelPath { get; init; }
    public string? Error { get; init; }
    /// <summary>The worker that holds (or held) the claim.</summary>
    public string? Worker { get; init; }
    /// <summary>Until when the claim holds unless renewed (running trials).</summary>
    public DateTimeOffset? LeaseExpires { get; init; }
    /// <summary>How many times it was claimed (more than one: it was retried).</summary>
    public int Attempts { get; init; }
    /// <summary>How many runs died holding it (each one given back as pending and retried).</summary>
    public int Interruptions { get; init; }

    /// <summary>True when its run finished: completed, failed or pruned.</summary>
    public bool IsFinished => Status is TrialStatus.Completed or TrialStatus.Failed or TrialStatus.Pruned;
}

/// <summary>A trial to write: what a strategy proposes, or a configuration a caller enqueues.</summary>
public sealed record Proposal(Configuration Configuration, double Budget = 1.0, string Origin = "random", int? Parent = null);

/// <summary>What an evaluation returns: its status, metrics (finite numbers), the model it wrote and notes.</summary>
public sealed record TrialResult
{
    public TrialStatus Status { get; init; } = TrialStatus.Completed;
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
    public string? ModelPath { get; init; }
    public string? Error { get; init; }
    public IReadOnlyDictionary<string, string> Attributes { get; init; } = new Dictionary<string, string>();

    /// <summary>A completed evaluation.</summary>
    public static TrialResult Completed(IReadOnlyDictionary<string, double> metrics, string? modelPath = null) =>
        new() { Metrics = metrics, ModelPath = modelPath };

    /// <summary>An evaluation the objective stopped early, with the metrics it reached and why.</summary>
    public static TrialResult Pruned(IReadOnlyDictionary<string, double> metrics, string reason) =>
        new() { Status = TrialStatus.Pruned, Metrics = metrics, Error = reason };

    /// <summary>A failed evaluation and why.</summary>
    public static TrialResult Failed(string error) => new() { Status = TrialStatus.Failed, Error = error };
}
