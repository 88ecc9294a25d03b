using System.Text.Json.Serialization;

namespace Shrink.Training;

/// <summary>
/// Where a run stands: the position to continue from and the counters of a partly done epoch. Every
/// field is required in a checkpoint's header; <see cref="CheckpointRun"/> checks each against the run.
/// </summary>
public sealed record CheckpointState
{
    /// <summary>Epochs finished (the epoch to continue is this one, counted from 0).</summary>
    [JsonRequired] public int Epoch { get; init; }

    /// <summary>Batches of <see cref="Epoch"/> already trained.</summary>
    [JsonRequired] public int Batch { get; init; }

    /// <summary>Optimizer steps taken (one per batch).</summary>
    [JsonRequired] public long Steps { get; init; }

    /// <summary>Sum of per-sample losses so far in the epoch.</summary>
    [JsonRequired] public double LossSum { get; init; }

    /// <summary>Correct predictions so far in the epoch.</summary>
    [JsonRequired] public long Correct { get; init; }

    /// <summary>Samples trained so far in the epoch.</summary>
    [JsonRequired] public long Seen { get; init; }

    /// <summary>Seconds spent so far in the epoch.</summary>
    [JsonRequired] public double Seconds { get; init; }

    /// <summary>The first 16 hex digits of the SHA-256 of the initial model.</summary>
    [JsonRequired] public string ModelHash { get; init; } = "";

    /// <summary>The options (and data) that decide the trained weights.</summary>
    [JsonRequired] public Dictionary<string, string> Options { get; init; } = new();

    /// <summary>Metrics of the finished epochs.</summary>
    [JsonRequired] public List<EpochMetrics> History { get; init; } = new();
}
