using Microsoft.Win32.SafeHandles;
using Shrink.Text;

namespace Shrink.Ir;

/// <summary>
/// An external data file opened once when a model is read and held for as long as a tensor reads from
/// it (the handle closes when the last such tensor is collected). Reads are positioned reads on that
/// handle: a file renamed over or deleted after reading still reads the bytes that were read then, and a
/// file changed in place (another length or modification time) is refused with one line.
/// </summary>
public sealed class DataFile
{
    private readonly SafeFileHandle _handle;
    private readonly DateTime _written;

    private DataFile(string path, SafeFileHandle handle)
    {
        Path = path;
        _handle = handle;
        Length = RandomAccess.GetLength(handle);
        _written = File.GetLastWriteTimeUtc(handle);
    }

    /// <summary>The file's path as it was opened.</summary>
    public string Path { get; }

    /// <summary>The file's length when it was opened.</summary>
    public long Length { get; }

    /// <summary>Opens <paramref name="path"/> for reading (the caller has checked where it lies).</summary>
    public static DataFile Open(string path) => new(path, File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete));

    /// <summary>Fills <paramref name="into"/> from <paramref name="offset"/>, after checking that the file is as it was read.</summary>
    public void Read(long offset, Span<byte> into)
    {
        CheckUnchanged();
        while (into.Length > 0)
        {
            var n = RandomAccess.Read(_handle, into, offset);
            if (n == 0) throw Changed("ends early");
            into = into[n..];
            offset += n;
        }
    }

    private void CheckUnchanged()
    {
        var length = RandomAccess.GetLength(_handle);
        if (length != Length) throw Changed($"has {length} bytes, {Length} when it was read");
        if (File.GetLastWriteTimeUtc(_handle) != _written) throw Changed("was modified");
    }

    private ModelFormatException Changed(string how) =>
        new($"external data file '{Message.Name(Path)}' changed after the model was read (it {how}); read the model again, and do not change a model's data while Shrink works on it");
}

/// <summary>A range of a <see cref="DataFile"/>: where an unloaded tensor's bytes are.</summary>
public sealed record DataRange(DataFile File, long Offset, long Length)
{
    /// <summary>Fills <paramref name="into"/> with the bytes from <paramref name="start"/> within the range.</summary>
    public void Read(long start, Span<byte> into)
    {
        if (start < 0 || into.Length > Length - start)
            throw new ArgumentOutOfRangeException(nameof(start), $"bytes {start}..{start + into.Length} lie outside the range's {Length}");
        File.Read(Offset + start, into);
    }
}
