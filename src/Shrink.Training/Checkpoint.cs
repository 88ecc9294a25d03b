using Shrink.IO;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training;

/// <summary>
/// The checkpoints of a run directory: <c>checkpoint.bin</c>, the newest, and <c>checkpoint.prev.bin</c>,
/// the one before it (the format is <see cref="CheckpointFormat"/>: magic, version, header, tensors,
/// SHA-256). A new checkpoint is written to a temporary file and flushed; only then does the newest
/// (when its checksum holds) become the previous one and the new file the newest, both by rename.
/// Resuming falls back to the previous checkpoint when the newest is damaged.
/// </summary>
public static class Checkpoint
{
    /// <summary>The newest checkpoint of a run directory.</summary>
    public static string PathIn(string runDirectory) => Path.Combine(runDirectory, "checkpoint.bin");

    /// <summary>The checkpoint before the newest.</summary>
    public static string PreviousIn(string runDirectory) => Path.Combine(runDirectory, "checkpoint.prev.bin");

    /// <summary>Whether a run directory holds a checkpoint (newest or previous).</summary>
    public static bool Exists(string runDirectory) => File.Exists(PathIn(runDirectory)) || File.Exists(PreviousIn(runDirectory));

    /// <summary>
    /// Writes the newest checkpoint of <paramref name="runDirectory"/>, keeping the one it replaces as
    /// the previous. An I/O or permission error is a <see cref="RunOutputException"/>; the checkpoints
    /// already there stay as they were.
    /// </summary>
    public static void Save(string runDirectory, CheckpointState state, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        var bytes = CheckpointFormat.Encode(state, tensors);
        var (newest, previous) = (PathIn(runDirectory), PreviousIn(runDirectory));
        RunOutput.Write(newest, RunAdvice.Continue("the checkpoints already in the run directory are kept"), () =>
        {
            using var staged = StagedFile.Begin(newest, option: "the checkpoint");
            staged.Write(s => s.Write(bytes));
            if (IsIntact(newest, bytes.Length)) File.Move(newest, previous, overwrite: true);
            staged.Commit();
        });
    }

    /// <summary>Whether a file is an intact checkpoint (magic, version, checksum), read only when about the size of a new one.</summary>
    private static bool IsIntact(string path, long newLength)
    {
        var file = new FileInfo(path);
        return file.Exists && file.Length <= 2 * newLength + (1 << 20) && CheckpointFormat.IsIntact(File.ReadAllBytes(path));
    }

    /// <summary>
    /// Reads a checkpoint and checks it against the run: magic and checksum first, then every header
    /// field and tensor. A damaged or mismatching file is a <see cref="CheckpointException"/>; one made
    /// for another model or other options an <see cref="OptionsException"/>. The tensors are new
    /// TorchSharp tensors the caller disposes.
    /// </summary>
    public static (CheckpointState State, Dictionary<string, Tensor> Tensors) Load(string path, CheckpointRun run)
    {
        var file = new FileInfo(path);
        if (!file.Exists) throw RunAdvice.NoCheckpoint(path);
        if (file.Length > run.MaxFileBytes)
            throw new CheckpointException(path, $"is corrupt ({file.Length} bytes; a checkpoint of this run takes at most {run.MaxFileBytes})", RunAdvice.Afresh);
        return CheckpointFormat.Decode(path, File.ReadAllBytes(path), run);
    }
}
