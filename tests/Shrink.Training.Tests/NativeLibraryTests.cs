using System.Diagnostics;
using Xunit;

namespace Shrink.Training.Tests;

/// <summary>The build's patch of libLibTorchSharp.so (build/Shrink.Training.targets, build/PatchLibTorchSharp.cs; the package route is proved by examples/run.sh).</summary>
public class NativeLibraryTests
{
    private static string Readelf(string path)
    {
        var psi = new ProcessStartInfo("readelf", $"-V \"{path}\"") { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return text;
    }

    [Fact]
    public void CopiedLibraryNeedsGlibcxx3432OnlyWeaklyWhereTheSystemLacksIt()
    {
        if (!OperatingSystem.IsLinux()) return;
        var lib = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(lib), $"{lib} is missing");
        var system = new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib64/libstdc++.so.6" }.FirstOrDefault(File.Exists);
        Assert.NotNull(system);
        var systemHas3432 = File.ReadAllText(system!, System.Text.Encoding.Latin1).Contains("GLIBCXX_3.4.32\0");
        var lines = Readelf(lib).Split('\n');
        var line = lines.FirstOrDefault(l => l.Contains("Name: GLIBCXX_3.4.32"));
        Assert.NotNull(line);
        // Patched only where needed, and only that one version need; elsewhere the library is used as shipped.
        Assert.Equal(!systemHas3432, line!.Contains("WEAK"));
        Assert.Equal(systemHas3432 ? 0 : 1, lines.Count(l => l.Contains("WEAK")));
    }
}
