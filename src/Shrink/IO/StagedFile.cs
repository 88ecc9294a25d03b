using System.Diagnostics;
using Shrink.Text;

namespace Shrink.IO;

/// <summary>
/// One output on its way into place: written to a temporary sibling (<c>.NAME.PID.RANDOM.tmp</c>, same
/// directory, so the final step is an atomic rename), checked by its writer, then moved over the
/// destination by <see cref="Commit"/>. Disposed without a commit, it removes the temporary file and
/// whatever it created beside it: a failed run leaves no trace. Temporary files left by killed runs
/// (their process gone) are removed when the next output of the same name is begun.
/// </summary>
public sealed class StagedFile : IDisposable
{
    /// <summary>Bytes a destination's name may grow by: its own temporary suffix (<c>.</c> + <c>.PID.RANDOM.tmp</c>, 25) after the content-named external data beside a model (<c>.&lt;16 hex&gt;.data</c>, 22).</summary>
    public const int TempSuffixBytes = 48;

    /// <summary>Bytes the temporary suffix alone adds (for files that have no data file of their own).</summary>
    public const int TempOnlySuffixBytes = 26;

    private readonly List<string> _created = new();
    private bool _committed;

    private StagedFile(string destination, string temp)
    {
        Destination = destination;
        TempPath = temp;
    }

    /// <summary>The full path the file will have after <see cref="Commit"/>.</summary>
    public string Destination { get; }

    /// <summary>Where the content is written (and can be read back, measured or loaded) before the commit.</summary>
    public string TempPath { get; }

    /// <summary>Runs after a successful commit (for example to remove what the replaced file referred to).</summary>
    public Action? AfterCommit { get; set; }

    /// <summary>Checks the destination (against <paramref name="guard"/>'s inputs when given) and reserves a temporary path beside it.</summary>
    public static StagedFile Begin(string destination, OutputGuard? guard = null, string? option = null, int reserve = TempSuffixBytes)
    {
        var full = guard?.Check(destination, option, reserve) ?? OutputGuard.CheckPlace(destination, option, reserve);
        var dir = Path.GetDirectoryName(full)!;
        var name = Path.GetFileName(full);
        StaleFiles.Clean(dir, name);
        return new StagedFile(full, Path.Combine(dir, $".{name}.{Environment.ProcessId}.{Random.Shared.Next():x8}.tmp"));
    }

    /// <summary>Writes the temporary file (created new, flushed to disk); file-system failures become <see cref="EnvironmentFailureException"/>.</summary>
    public void Write(Action<Stream> write)
    {
        try
        {
            using var fs = new FileStream(TempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            write(fs);
            fs.Flush(flushToDisk: true);
        }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e))
        {
            TryDelete(TempPath);
            throw EnvironmentFailureException.From($"write '{Message.Name(Destination)}'", e);
        }
    }

    /// <summary>Records a file this output created beside it (removed again if the output is never committed).</summary>
    public void AddCreated(string path) => _created.Add(path);

    /// <summary>Moves the temporary file over the destination (one rename).</summary>
    public void Commit()
    {
        if (_committed) throw new InvalidOperationException($"'{Destination}' was committed already");
        var kind = FileIdentity.Of(Destination, followLinks: false).Kind;
        if (kind is not (FileKind.Missing or FileKind.Regular))
            throw new OptionsException($"'{Message.Name(Destination)}' became {FileIdentity.Describe(kind)} while Shrink was working; nothing was written");
        try { File.Move(TempPath, Destination, overwrite: true); }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e))
        {
            throw EnvironmentFailureException.From($"move the new file into '{Message.Name(Destination)}'", e);
        }
        _committed = true;
        try { AfterCommit?.Invoke(); }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e)) { }  // clean-up after the commit is best effort: the output is in place
    }

    /// <summary>Removes the temporary file and what was created beside it, unless committed.</summary>
    public void Dispose()
    {
        if (_committed) return;
        TryDelete(TempPath);
        foreach (var c in _created) TryDelete(c);
        _created.Clear();
        _committed = true;
    }

    internal static void TryDelete(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Temporary files and stage folders that killed runs left behind.</summary>
internal static class StaleFiles
{
    private static readonly TimeSpan LegacyAge = TimeSpan.FromMinutes(10), MaxAge = TimeSpan.FromDays(1);

    /// <summary>
    /// Removes, in <paramref name="dir"/>, temporary files of <paramref name="name"/> (and of names that
    /// start with it, such as its external data) whose process has ended, and the stage folders and
    /// temporary files of earlier versions once they are ten minutes old.
    /// </summary>
    public static void Clean(string dir, string name)
    {
        if (name.IndexOfAny(new[] { '*', '?' }) >= 0) return;
        try
        {
            foreach (var file in Directory.EnumerateFiles(dir, $".{name}*.tmp"))
                if (IsStale(Path.GetFileName(file), File.GetLastWriteTimeUtc(file))) StagedFile.TryDelete(file);
            foreach (var stage in Directory.EnumerateDirectories(dir, ".shrink-stage-*"))
                if (DateTime.UtcNow - Directory.GetLastWriteTimeUtc(stage) > LegacyAge) Directory.Delete(stage, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>The live temporary files of <paramref name="name"/> itself in <paramref name="dir"/> (other runs writing the same output now).</summary>
    public static IEnumerable<string> Live(string dir, string name)
    {
        if (name.IndexOfAny(new[] { '*', '?' }) >= 0) return Array.Empty<string>();
        try
        {
            return Directory.EnumerateFiles(dir, $".{name}.*.tmp")
                .Where(f => Parse(Path.GetFileName(f)) is { } t && t.Target == name && !IsStale(Path.GetFileName(f), File.GetLastWriteTimeUtc(f))).ToList();
        }
        catch (IOException) { return Array.Empty<string>(); }
    }

    /// <summary>What a temporary name <c>.TARGET.PID.RANDOM.tmp</c> says: the file it stands in for, and the process writing it (0 for the <c>.TARGET.GUID.tmp</c> of earlier versions); null for other names.</summary>
    private static (string Target, int Pid)? Parse(string file)
    {
        if (!file.StartsWith('.') || !file.EndsWith(".tmp", StringComparison.Ordinal)) return null;
        var parts = file[1..^4].Split('.');
        if (parts.Length >= 3 && int.TryParse(parts[^2], out var pid) && pid > 0 && parts[^1].Length == 8)
            return (string.Join('.', parts[..^2]), pid);
        if (parts.Length >= 2 && parts[^1].Length == 32) return (string.Join('.', parts[..^1]), 0);
        return null;
    }

    private static bool IsStale(string file, DateTime written)
    {
        var age = DateTime.UtcNow - written;
        return Parse(file) switch
        {
            null => false,
            (_, 0) => age > LegacyAge,
            (_, var pid) => age > MaxAge || (pid != Environment.ProcessId && !Alive(pid)),
        };
    }

    /// <summary>True when process <paramref name="pid"/> of this machine is running.</summary>
    internal static bool Alive(int pid)
    {
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{pid}");
        try { using var p = Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }
}
