using System.Diagnostics;
using Xunit;

namespace Shrink.TestSupport;

/// <summary>Runs a system command (mkfifo, ln) for the file-safety tests, and asserts that it succeeded.</summary>
internal static class Shell
{
    public static void Run(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }
}
