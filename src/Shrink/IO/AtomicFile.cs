namespace Shrink.IO;

/// <summary>
/// Writes files atomically: the content goes to a temporary file in the same directory, which is
/// flushed and then renamed over the destination (<see cref="StagedFile"/>). A reader never sees a
/// half-written file, and a failed write leaves nothing behind.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="write"/>'s output to <paramref name="path"/> atomically, refusing an output <paramref name="guard"/> protects.</summary>
    public static void Write(string path, Action<Stream> write, OutputGuard? guard = null)
    {
        using var staged = StagedFile.Begin(path, guard);
        staged.Write(write);
        staged.Commit();
    }

    /// <summary>Writes all bytes atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes, OutputGuard? guard = null)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy), guard);
    }

    /// <summary>Writes text (UTF-8) atomically.</summary>
    public static void WriteAllText(string path, string text, OutputGuard? guard = null)
        => WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text), guard);
}
