namespace Shrink.Training;

/// <summary>
/// A checkpoint that cannot be resumed from: not a checkpoint, another format version, damaged (its
/// checksum fails), or a header field or tensor that does not fit the run. The message is one line
/// naming the file and the field; <see cref="Problem"/> is the part that names them.
/// </summary>
public sealed class CheckpointException : ShrinkUserException
{
    public CheckpointException(string path, string problem, string advice, Exception? inner = null)
        : base($"checkpoint '{path}' {problem}; {advice}", inner) => (FilePath, Problem) = (path, problem);

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
}

/// <summary>Turns the environment's refusals of a write into <see cref="RunOutputException"/>, with what survives.</summary>
public static class RunOutput
{
    /// <summary>Runs <paramref name="write"/>; a refusal of the file system becomes "cannot write 'PATH': CAUSE; HINT; ADVICE".</summary>
    public static void Write(string path, string advice, Action write)
    {
        try { write(); }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e))
        {
            throw new RunOutputException($"{EnvironmentFailureException.From($"write '{path}'", e).Message}; {advice}", e);
        }
        catch (Exception e) when (e is EnvironmentFailureException or OptionsException)
        {
            throw new RunOutputException($"{e.Message}; {advice}", e);
        }
    }

    /// <summary>The first line of an exception's message, without its final full stop.</summary>
    public static string Cause(Exception e) => e.Message.Split('\n', 2)[0].Trim().TrimEnd('.');
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
