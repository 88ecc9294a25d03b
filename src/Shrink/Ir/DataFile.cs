using System.Buffers;
using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;
using Shrink.Text;

namespace Shrink.Ir;

/// <summary>
/// An external data file opened once when a model is read and held for as long as a tensor reads from
/// it (the handle closes when the last such tensor is collected). Reads are positioned reads on that
/// handle: a file renamed over or deleted after reading still reads the bytes that were read then, and a
/// file changed in place is refused with one line. Before every read the file's length, modification time and a hash
/// of its first and last <see cref="CheckBytes"/> are compared with those of when it was opened: a rewrite of the same
/// length that keeps the modification time is caught when it touches either end, not when it changes only the middle.
/// </summary>
public sealed class DataFile
{
    private readonly SafeFileHandle _handle;
    private readonly DateTime _written;
    private readonly ulong _ends;

    /// <summary>Bytes at each end of the file whose hash is checked before every read (two page-sized reads: a few microseconds).</summary>
    public const int CheckBytes = 4 << 10;

    private DataFile(string path, SafeFileHandle handle)
    {
        Path = path;
        _handle = handle;
        Length = RandomAccess.GetLength(handle);
        _written = File.GetLastWriteTimeUtc(handle);
        _ends = HashOfEnds();
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
        ReadAll(offset, into);
    }

    private void ReadAll(long offset, Span<byte> into)
    {
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
        if (HashOfEnds() != _ends) throw Changed($"has other bytes in its first or last {CheckBytes / 1024} KiB");
    }

    /// <summary>XxHash64 of the first and the last <see cref="CheckBytes"/> of the file (of all of it when shorter than both).</summary>
    private ulong HashOfEnds()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CheckBytes);
        try
        {
            var hash = new XxHash64();
            var head = (int)Math.Min(CheckBytes, Length);
            ReadAll(0, buffer.AsSpan(0, head));
            hash.Append(buffer.AsSpan(0, head));
            var tail = Math.Max(head, Length - CheckBytes);
            ReadAll(tail, buffer.AsSpan(0, (int)(Length - tail)));
            hash.Append(buffer.AsSpan(0, (int)(Length - tail)));
            return hash.GetCurrentHashAsUInt64();
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
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
