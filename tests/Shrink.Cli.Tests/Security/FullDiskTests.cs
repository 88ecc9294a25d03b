using System.Diagnostics;
using Xunit;

namespace Shrink.Cli.Tests.Security;

/// <summary>A small tmpfs mounted for a test (root only, as in CI), unmounted on dispose.</summary>
internal sealed class FullDisk : IDisposable
{
    private readonly string _path;
    private FullDisk(string path) => _path = path;

    /// <summary>Mounts a tmpfs with <paramref name="options"/> at <paramref name="path"/> (created); null where mounting is not allowed.</summary>
    public static FullDisk? Mount(string path, string options)
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root") return null;
        Directory.CreateDirectory(path);
        using var p = Process.Start(new ProcessStartInfo("mount") { ArgumentList = { "-t", "tmpfs", "-o", options, "tmpfs", path }, RedirectStandardError = true })!;
        p.WaitForExit();
        return p.ExitCode == 0 ? new FullDisk(path) : null;
    }

    public void Dispose()
    {
        using var p = Process.Start(new ProcessStartInfo("umount") { ArgumentList = { _path }, RedirectStandardError = true });
        p?.WaitForExit();
    }
}

/// <summary>
/// A full disk and a read-only file system, for real: a 64 KiB tmpfs mounted for the test (this needs
/// root, as CI has; elsewhere the library test with a simulated ENOSPC stands in). Each is exit code 2
/// with the path and the cause, never "internal error", and leaves no temporary file behind.
/// </summary>
public sealed class FullDiskTests
{
    [Fact]
    public void ADiskFullWhileWriting_IsExit2WithTheCause()
    {
        using var dir = new TempDirectory();
        using var disk = FullDisk.Mount(dir.File("t"), "size=64k");
        if (disk is null) return;
        var r = CliRunner.Run("zoo", "vgg-small", "--out", dir.File("t/m.onnx"));  // 2.2 MiB into 64 KiB
        CliRunner.AssertBadInput(r, "No space left on device");
        Assert.Contains("m.onnx", r.Err);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.File("t")));
    }

    [Fact]
    public void AReadOnlyFileSystem_IsExit2WithTheCause()
    {
        using var dir = new TempDirectory();
        using var disk = FullDisk.Mount(dir.File("t"), "ro,size=64k");
        if (disk is null) return;
        var r = CliRunner.Run("zoo", "lenet300", "--out", dir.File("t/m.onnx"));
        CliRunner.AssertBadInput(r, "m.onnx");
        Assert.Contains("Read-only file system", r.Err);
    }
}
