using System.Diagnostics;
using Shrink.Tests.Cli;
using Shrink.Tests.Data;
using Xunit;

namespace Shrink.Tests.Security;

/// <summary>
/// A full disk and a read-only file system, for real: a 64 KiB tmpfs mounted for the test (this needs
/// root, as CI has; elsewhere the library test with a simulated ENOSPC stands in). Each is exit code 2
/// with the path and the cause, never "internal error", and leaves no temporary file behind.
/// </summary>
public sealed class FullDiskTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private bool Mount(string options)
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root") return false;
        using var p = Process.Start(new ProcessStartInfo("mount") { ArgumentList = { "-t", "tmpfs", "-o", options, "tmpfs", _dir.Path }, RedirectStandardError = true })!;
        p.WaitForExit();
        return p.ExitCode == 0;
    }

    [Fact]
    public void ADiskFullWhileWriting_IsExit2WithTheCause()
    {
        if (!Mount("size=64k")) return;
        var r = CliRunner.Run("zoo", "vgg-small", "--out", _dir.File("m.onnx"));  // 2.2 MiB into 64 KiB
        CliRunner.AssertBadInput(r, "No space left on device");
        Assert.Contains("m.onnx", r.Err);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void AReadOnlyFileSystem_IsExit2WithTheCause()
    {
        if (!Mount("ro,size=64k")) return;
        var r = CliRunner.Run("zoo", "lenet300", "--out", _dir.File("m.onnx"));
        CliRunner.AssertBadInput(r, "m.onnx");
        Assert.Contains("Read-only file system", r.Err);
    }

    public void Dispose()
    {
        using (var p = Process.Start(new ProcessStartInfo("umount") { ArgumentList = { _dir.Path }, RedirectStandardError = true })) p?.WaitForExit();
        _dir.Dispose();
    }
}
