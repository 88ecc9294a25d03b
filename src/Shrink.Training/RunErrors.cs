using Shrink.Text;

namespace Shrink.Training;

/// <summary>
/// A checkpoint that cannot be resumed from: not a checkpoint, another format version, damaged (its
/// checksum fails), or a header field or tensor that does not fit the run. The message is one line
/// naming the file and the field; <see cref="Problem"/> is the part that names them.
/// </summary>
public sealed class CheckpointException : ShrinkUserException
{
    /// <param name="path">The checkpoint file.</param>
    /// <param name="problem">What is wrong with it.</param>
    /// <param name="advice">What to do (it may name options: "use a new run directory").</param>
    /// <param name="inner">The cause.</param>
    public CheckpointException(string path, string problem, OptionText advice, Exception? inner = null)
        : base(OptionText.Of($"checkpoint '{path}' {problem}; {advice}"), inner) => (FilePath, Problem) = (path, problem);

    /// <summary>The checkpoint file.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it, for example "is corrupt (checksum mismatch)".</summary>
    public string Problem { get; }
}

/// <summary>
/// A file of a training run (checkpoint, metrics, trained model) that the environment refused to
/// write: disk full, read-only file system, a name too long, no permission, a missing directory. The
/// message names the path and the cause in one line and says what survives.
/// </summary>
public sealed class RunOutputException : ShrinkUserException
{
    public RunOutputException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>A refusal whose message names options (what to resume with, say).</summary>
    public RunOutputException(OptionText message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>Turns the environment's refusals of a write into <see cref="RunOutputException"/>, with what survives.</summary>
public static class RunOutput
{
    /// <summary>
    /// Runs <paramref name="write"/>; a refusal of the file system becomes "cannot write 'PATH': CAUSE; HINT; ADVICE"
    /// (<paramref name="advice"/>, which may name options, says what survives and what to do).
    /// </summary>
    public static void Write(string path, string advice, Action write) => Write(path, OptionText.Plain(advice), write);

    /// <inheritdoc cref="Write(string, string, Action)"/>
    public static void Write(string path, OptionText advice, Action write)
    {
        try { write(); }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e))
        {
            throw new RunOutputException(OptionText.Of($"{EnvironmentFailureException.From($"write '{path}'", e).Message}; {advice}"), e);
        }
        catch (ShrinkUserException e) when (e is EnvironmentFailureException or OptionsException)
        {
            throw new RunOutputException(OptionText.Of($"{e.Wording}; {advice}"), e);
        }
    }

    /// <summary>The first line of an exception's message, without its final full stop.</summary>
    public static string Cause(Exception e) => e.Message.Split('\n', 2)[0].Trim().TrimEnd('.');
}

/// <summary>
/// The advice of messages about a training run, naming the run's options (<see cref="TrainOptions.Resume"/>,
/// <see cref="TrainOptions.RunDirectory"/>), which the CLI prints as the flags that set them.
/// </summary>
internal static class RunAdvice
{
    public static OptionName Resume { get; } = OptionName.Of(nameof(TrainOptions.Resume));
    public static OptionName RunDirectory { get; } = OptionName.Of(nameof(TrainOptions.RunDirectory));

    /// <summary>"delete it (or use a new run directory) to train afresh".</summary>
    public static OptionText Afresh { get; } = OptionText.Of($"delete it (or use a new {RunDirectory}) to train afresh");

    /// <summary>"<paramref name="kept"/>; mend this and continue with resume".</summary>
    public static OptionText Continue(string kept) => OptionText.Of($"{kept}; mend this and continue with {Resume}");

    /// <summary>"no checkpoint at <paramref name="path"/>; start the run without resume".</summary>
    public static OptionsException NoCheckpoint(string path) => new(OptionText.Of($"no checkpoint at {path}; start the run without {Resume}"));
}

/// <summary>
/// Training stopped because its cancellation token was cancelled (Ctrl-C): the run directory holds a checkpoint
/// at the batch it stopped before (<see cref="CheckpointPath"/>; null when the run had no run directory), and the
/// same run with resume continues there. A command maps it to exit code 130.
/// </summary>
public sealed class TrainingInterruptedException : OperationCanceledException
{
    public TrainingInterruptedException(string? checkpointPath, string position, CancellationToken token)
        : base(checkpointPath is null ? $"training interrupted at {position}; no checkpoint (the run has no run directory)"
            : $"training interrupted at {position}; checkpoint written to {checkpointPath}", token) =>
        (CheckpointPath, Position) = (checkpointPath, position);

    /// <summary>The checkpoint written, or null.</summary>
    public string? CheckpointPath { get; }

    /// <summary>Where the run stopped, in words ("epoch 2, batch 3").</summary>
    public string Position { get; }
}
