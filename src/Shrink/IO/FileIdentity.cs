using System.Runtime.InteropServices;

namespace Shrink.IO;

/// <summary>What a path names on disk, as <c>stat</c> reports it.</summary>
public enum FileKind { Missing, Regular, Directory, SymbolicLink, Fifo, CharacterDevice, BlockDevice, Socket, Other }

/// <summary>
/// The identity of a file: its device and inode (so two paths that reach the same file through
/// symbolic links, hard links, <c>/proc/self/cwd</c> or <c>..</c> compare equal) and its kind.
/// On Linux it comes from <c>statx(2)</c>, whose layout is the same on every architecture; elsewhere
/// the resolved full path stands in for the inode.
/// </summary>
public readonly record struct FileIdentity(ulong Device, ulong Inode, string? PathKey, FileKind Kind)
{
    private const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100, StatxBasicStats = 0x7ff;

    /// <summary>The identity of what <paramref name="path"/> names; with <paramref name="followLinks"/> false a link is reported as the link itself.</summary>
    public static FileIdentity Of(string path, bool followLinks = true)
    {
        if (OperatingSystem.IsLinux() && OfLinux(path, followLinks) is { } id) return id;
        return OfPath(path, followLinks);
    }

    /// <summary>Where statx is missing or refused: the resolved full path stands in for the inode.</summary>
    private static FileIdentity OfPath(string path, bool followLinks)
    {
        var info = new FileInfo(path);
        if (!info.Exists) return Directory.Exists(path) ? new(0, 0, Path.GetFullPath(path), FileKind.Directory) : default;
        if (!followLinks && info.LinkTarget is not null) return new(0, 0, info.FullName, FileKind.SymbolicLink);
        var target = followLinks ? info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName : info.FullName;
        return new(0, 0, target, FileKind.Regular);
    }

    /// <summary>True when both name the same existing file.</summary>
    public bool SameFileAs(FileIdentity other) => Kind != FileKind.Missing && other.Kind != FileKind.Missing
        && (PathKey is null ? Device == other.Device && Inode == other.Inode : string.Equals(PathKey, other.PathKey, StringComparison.Ordinal));

    /// <summary>
    /// Null when <paramref name="path"/> is missing or a regular file; else why it cannot be read as one
    /// (a FIFO would block a read forever, a device never end), for a message about <paramref name="what"/>.
    /// </summary>
    public static string? NotRegular(string path, string what)
    {
        var kind = Of(path).Kind;
        return kind is FileKind.Missing or FileKind.Regular ? null
            : $"{what} '{Text.Message.Name(path)}' is {Describe(kind)}, not a regular file; give the path of a file";
    }

    /// <summary>A word for the kind, for messages ("a FIFO", "a character device").</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Regular => "a regular file", FileKind.Directory => "a directory", FileKind.SymbolicLink => "a symbolic link",
        FileKind.Fifo => "a FIFO (named pipe)", FileKind.CharacterDevice => "a character device", FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket", FileKind.Missing => "missing", _ => "not a regular file",
    };

    private const int ENOENT = 2, ENOTDIR = 20;
    private static bool _noStatx;

    /// <summary>statx(2); null where the call is not available or refused (old glibc, a seccomp filter), so the caller falls back.</summary>
    private static FileIdentity? OfLinux(string path, bool followLinks)
    {
        if (_noStatx) return null;
        var buffer = new byte[256];
        int rc;
        try { rc = statx(AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, StatxBasicStats, buffer); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _noStatx = true;
            return null;
        }
        if (rc != 0) return Marshal.GetLastPInvokeError() is ENOENT or ENOTDIR ? default(FileIdentity) : null;
        var mode = BitConverter.ToUInt16(buffer, 28);
        var inode = BitConverter.ToUInt64(buffer, 32);
        var device = ((ulong)BitConverter.ToUInt32(buffer, 136) << 32) | BitConverter.ToUInt32(buffer, 140);
        return new(device, inode, null, KindOf(mode));
    }

    private static FileKind KindOf(ushort mode) => (mode & 0xF000) switch
    {
        0x8000 => FileKind.Regular, 0x4000 => FileKind.Directory, 0xA000 => FileKind.SymbolicLink, 0x1000 => FileKind.Fifo,
        0x2000 => FileKind.CharacterDevice, 0x6000 => FileKind.BlockDevice, 0xC000 => FileKind.Socket, _ => FileKind.Other,
    };

    /// <summary>The path with every symbolic link, <c>.</c> and <c>..</c> resolved (realpath(3)); null when it does not exist.</summary>
    public static string? RealPath(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            var full = Path.GetFullPath(path);
            return File.Exists(full) || Directory.Exists(full) ? new FileInfo(full).ResolveLinkTarget(true)?.FullName ?? full : null;
        }
        var p = realpath(path, IntPtr.Zero);
        if (p == IntPtr.Zero) return null;
        try { return Marshal.PtrToStringUTF8(p); }
        finally { free(p); }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mask, byte[] buffer);

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc")]
    private static extern void free(IntPtr p);
}
