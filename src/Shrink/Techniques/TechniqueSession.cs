namespace Shrink.Techniques;

/// <summary>
/// What a technique's caller gives it besides the model and options: where its notes go, a cancellation token
/// (Ctrl-C), and the run directory where techniques that train keep their checkpoints so that a stopped run
/// resumes. The CLI makes one per command; a recipe makes one per stage.
/// </summary>
public sealed class TechniqueSession
{
    /// <summary>A session that discards notes, cannot be cancelled and keeps no checkpoints.</summary>
    public static TechniqueSession Quiet => new();

    /// <summary>Receives messages for the user, one line each (layers left alone and why, epoch lines).</summary>
    public Action<string>? Notes { get; init; }

    /// <summary>Receives progress within training epochs, for progress bars (about ten times a second at most).</summary>
    public Action<TechniqueProgress>? Progress { get; init; }

    /// <summary>Receives each finished training epoch's metrics (epoch lines), after the epoch's checkpoint is written.</summary>
    public Action<TechniqueEpoch>? EpochEnd { get; init; }

    public CancellationToken Cancel { get; init; }

    /// <summary>Where checkpoints go; null trains without checkpoints (nothing to resume from).</summary>
    public string? RunDirectory { get; init; }

    /// <summary>Continue from the checkpoints in <see cref="RunDirectory"/>.</summary>
    public bool Resume { get; init; }

    public void Note(string message) => Notes?.Invoke(message);
}

/// <summary>Progress of a technique that trains: which run (<paramref name="Label"/>), epoch and batch.</summary>
public readonly record struct TechniqueProgress(string Label, int Epoch, int Epochs, int Batch, int Batches, double Loss, double Accuracy, double SamplesPerSecond);

/// <summary>A finished epoch of a technique that trains: which run (<paramref name="Label"/>), the epoch (1-based) and its metrics.</summary>
public sealed record TechniqueEpoch(string Label, int Epoch, int Epochs, double TrainLoss, double TrainAccuracy, double? TestAccuracy, double LearningRate,
    double Seconds, double SamplesPerSecond);
