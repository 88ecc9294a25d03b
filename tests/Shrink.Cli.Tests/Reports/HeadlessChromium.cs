using System.Diagnostics;
using Xunit;

namespace Shrink.Cli.Tests.Reports;

/// <summary>
/// Opens a report page in headless Chromium (Debian's <c>chromium</c>; <c>--dump-dom</c>, no remote debugging port) and
/// returns its DOM after the load event; null, saying so, when chromium is missing and SHRINK_REQUIRE_CHROMIUM is not set
/// (CI sets it, and then a missing chromium fails the test).
/// </summary>
internal static class HeadlessChromium
{
    public static string? DomOrSkip(string page, string profile)
    {
        if (Find() is not { } chromium)
        {
            Assert.True(Environment.GetEnvironmentVariable("SHRINK_REQUIRE_CHROMIUM") is null or "" or "0",
                "SHRINK_REQUIRE_CHROMIUM is set but chromium is not on PATH; install Debian's chromium package (apt-get install -y chromium)");
            Console.Error.WriteLine("skipped: chromium is not installed, so the report page was not opened in a browser (set SHRINK_REQUIRE_CHROMIUM=1 to fail instead)");
            return null;
        }
        return DumpDom(chromium, page, profile);
    }

    private static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "chromium")).FirstOrDefault(File.Exists);

    /// <summary>The page's DOM after its load event, from chromium --headless=new --dump-dom (no port opened), within 60 s.</summary>
    private static string DumpDom(string chromium, string page, string profile)
    {
        var start = new ProcessStartInfo(chromium)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            ArgumentList = { "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", $"--user-data-dir={profile}", "--dump-dom", new Uri(page).AbsoluteUri },
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("chromium did not finish within 60 s");
        }
        Assert.True(process.ExitCode == 0, $"chromium exited {process.ExitCode}: {errors.Result}");
        return output.Result;
    }
}
