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

    /// <summary>
    /// Receives progress within training epochs after every optimizer step, for progress bars (a renderer
    /// throttles itself) and for callers that act at a known step (cancelling after N steps).
    /// </summary>
    public Action<TechniqueProgress>? Progress { get; init; }

    /// <summary>Receives each finished training epoch (train, distill, every fine-tuning), for epoch lines and logs.</summary>
    public Action<TechniqueEpoch>? EpochEnd { get; init; }

    public CancellationToken Cancel { get; init; }

    /// <summary>
    /// Where checkpoints go; null trains without checkpoints (nothing to resume from). Each training run of a
    /// technique (a fine-tuning, a round of a schedule, a teacher) checkpoints every epoch into its own
    /// sub-directory, named from its label (<c>round 2/3 fine-tune</c> → <c>round-2-3-fine-tune</c>).
    /// </summary>
    public string? RunDirectory { get; init; }

    /// <summary>
    /// Continue from the checkpoints in <see cref="RunDirectory"/>: a finished training run gives back its trained
    /// weights without training again, an interrupted one continues at its epoch and batch, one not reached yet
    /// starts afresh; the deterministic steps between them are recomputed. A checkpoint made for another model or
    /// other options is refused with one line.
    /// </summary>
    public bool Resume { get; init; }

    /// <summary>
    /// How notes name the options they mention (<see cref="Text.OptionText"/>): the CLI gives the flag that sets each;
    /// null says them in the library's words.
    /// </summary>
    public Text.OptionNaming? Naming { get; init; }

    /// <summary>How much the notes say: what was left alone in short (the default), or every item with its reason.</summary>
    public Passes.NotesLevel Verbosity { get; init; }

    public void Note(string message) => Notes?.Invoke(message);

    /// <summary>A note that names options, rendered by <see cref="Naming"/>.</summary>
    public void Note(Text.OptionText message) => Notes?.Invoke(Naming is null ? message.ToString() : message.Render(Naming));
}

/// <summary>
/// Progress of a technique that trains: which run (<paramref name="Label"/>, empty for a command's own training),
/// the epoch (counted from 0) and the batches done in it; loss and accuracy are the epoch's running means (accuracy null without labels).
/// </summary>
public readonly record struct TechniqueProgress(string Label, int Epoch, int Epochs, int Batch, int Batches, double Loss, double? Accuracy, double SamplesPerSecond);

/// <summary>
/// A finished epoch of a training run (<paramref name="Label"/>, empty for a command's own training):
/// <paramref name="Epoch"/> counts from 1; test figures are null when the run does not evaluate.
/// </summary>
public sealed record TechniqueEpoch(string Label, int Epoch, int Epochs, double TrainLoss, double? TrainAccuracy, double? TestLoss, double? TestAccuracy,
    double LearningRate, double Seconds, double SamplesPerSecond);
