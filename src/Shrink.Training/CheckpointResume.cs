using Shrink.Text;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training;

/// <summary>
/// Chooses the checkpoint a resumed run continues from: the newest, else (damaged or missing) the
/// previous one, with a note saying so; none in an existing run directory means the run stopped
/// before its first checkpoint and starts over. Only when no checkpoint is usable is the resume refused.
/// </summary>
public static class CheckpointResume
{
    /// <summary>
    /// The state and tensors to continue from, or null to start the run from the beginning. Notes for
    /// the user go to <paramref name="note"/>.
    /// </summary>
    public static (CheckpointState State, Dictionary<string, Tensor> Tensors)? Choose(string runDirectory, CheckpointRun run, Action<string>? note)
    {
        var (newest, previous) = (Checkpoint.PathIn(runDirectory), Checkpoint.PreviousIn(runDirectory));
        if (!Checkpoint.Exists(runDirectory))
        {
            if (!Directory.Exists(runDirectory)) throw RunAdvice.NoCheckpoint(newest);
            note?.Invoke($"note: {runDirectory} holds no checkpoint yet (the run stopped before its first one); starting epoch 1 over from the beginning");
            return null;
        }
        CheckpointException? failure = null;
        if (File.Exists(newest))
        {
            try { return Checkpoint.Load(newest, run); }
            catch (CheckpointException e) { failure = e; }
        }
        if (!File.Exists(previous)) throw failure!;
        try
        {
            var loaded = Checkpoint.Load(previous, run);
            var why = failure is null ? "is missing" : failure.Problem;
            note?.Invoke($"note: checkpoint '{newest}' {why}; resuming from '{previous}' ({Describe(loaded.State)})");
            return loaded;
        }
        catch (CheckpointException e) when (failure is not null)
        {
            throw new CheckpointException(newest, failure.Problem,
                OptionText.Of($"the previous one '{previous}' {e.Problem} too; delete the run directory (or use a new {RunAdvice.RunDirectory}) to train afresh"), e);
        }
    }

    /// <summary>Where a checkpoint stands, in words.</summary>
    public static string Describe(CheckpointState s) =>
        s.Batch > 0 ? $"epoch {s.Epoch + 1}, batch {s.Batch}" : s.Epoch == 0 ? "before epoch 1" : $"epoch {s.Epoch} done";
}
