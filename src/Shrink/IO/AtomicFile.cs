using Shrink.Text;

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

    /// <summary>
    /// Writes <paramref name="write"/>'s output to <paramref name="path"/> atomically in a directory that processes on other
    /// machines write too (a shared artifacts directory). A process id means nothing on another machine, so the temporary
    /// file is named for this machine and process (<c>.NAME.PID@HOST.RANDOM.tmp</c>), and of the temporary files of
    /// <c>NAME</c> left beside it only this machine's whose process has ended are removed; every other one may be a write in flight.
    /// </summary>
    public static void WriteShared(string path, Action<Stream> write)
    {
        var (dir, name) = (Path.GetDirectoryName(Path.GetFullPath(path))!, Path.GetFileName(path));
        HostTemporaries.Clean(dir, name);
        var temp = Path.Combine(dir, $".{name}.{Environment.ProcessId}@{HostTemporaries.Host}.{Random.Shared.Next():x8}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e))
        {
            throw EnvironmentFailureException.From($"write '{Message.Name(path)}'", e);
        }
        finally
        {
            StagedFile.TryDelete(temp);
        }
    }
}

/// <summary>The temporary files of <see cref="AtomicFile.WriteShared"/>, named for the machine and process writing them.</summary>
internal static class HostTemporaries
{
    /// <summary>This machine's name as temporary names carry it: letters, digits and '-' (a '.' would split the name).</summary>
    public static string Host { get; } = string.Concat(Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '-'));

    /// <summary>Removes the temporary files of <paramref name="name"/> in <paramref name="dir"/> that this machine's ended processes left.</summary>
    public static void Clean(string dir, string name)
    {
        if (name.IndexOfAny(['*', '?']) >= 0) return;
        try
        {
            foreach (var file in Directory.EnumerateFiles(dir, $".{name}.*@{Host}.*.tmp"))
                if (Pid(Path.GetFileName(file), name) is { } pid && pid != Environment.ProcessId && !StaleFiles.Alive(pid)) StagedFile.TryDelete(file);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>The process of this machine that writes <paramref name="file"/> (<c>.NAME.PID@HOST.RANDOM.tmp</c>), or null for another machine's or another name's.</summary>
    private static int? Pid(string file, string name)
    {
        var prefix = $".{name}.";
        if (!file.StartsWith(prefix, StringComparison.Ordinal) || !file.EndsWith(".tmp", StringComparison.Ordinal)) return null;
        var parts = file[prefix.Length..^4].Split('.');
        if (parts.Length != 2 || parts[1].Length != 8 || parts[0].Split('@') is not [var pid, var host] || host != Host) return null;
        return int.TryParse(pid, out var p) && p > 0 ? p : null;
    }
}
