namespace Shrink.IO;

/// <summary>
/// Writes files atomically: the content goes to a temporary file in the same directory,
/// which is flushed and then renamed over the destination. A reader never sees a half-written file,
/// and a failed write leaves nothing behind.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="write"/>'s output to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir))
            throw new OptionsException($"cannot write '{path}': directory '{dir}' does not exist; create it first");
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>Writes all bytes atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    /// <summary>Writes text (UTF-8) atomically.</summary>
    public static void WriteAllText(string path, string text)
        => WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text));

    internal static void TryDelete(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
