using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;

namespace Shrink.Cli.Tests.Reports;

/// <summary>
/// <c>shrink report DIR</c> on a hand-made run (<see cref="ReportRuns"/>), and the page it writes opened in headless
/// Chromium (Debian's <c>chromium</c>; <c>--dump-dom</c>, no remote debugging port): the page's own check marks the body
/// "ok" only when no script error happened, every image decoded and the before/after table exists. Skipped, saying so,
/// only when chromium is missing and SHRINK_REQUIRE_CHROMIUM is not set (CI sets it).
/// </summary>
public class OptimizeReportPageTests
{
    [Fact]
    public void Shrink_report_writes_a_page_that_loads_in_headless_chromium_with_its_table_and_every_image_decoded()
    {
        using var dir = new TempDirectory();
        ReportRuns.Write(dir);
        var r = CliRunner.Run("report", dir.File("run"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Equal($"wrote {dir.File("run/report.html")} and report.json: 5 trials, chosen trial 2 (meets the budget), 3 rejected", r.Out.Trim());
        Assert.True(File.Exists(dir.File("run/report.json")));

        if (Chromium() is not { } chromium)
        {
            Assert.True(Environment.GetEnvironmentVariable("SHRINK_REQUIRE_CHROMIUM") is null or "" or "0",
                "SHRINK_REQUIRE_CHROMIUM is set but chromium is not on PATH; install Debian's chromium package (apt-get install -y chromium)");
            Console.Error.WriteLine("skipped: chromium is not installed, so the report page was not opened in a browser (set SHRINK_REQUIRE_CHROMIUM=1 to fail instead)");
            return;
        }
        var dom = DumpDom(chromium, dir.File("run/report.html"), dir.File("profile"));
        Assert.Matches("<body data-check=\"ok\"", dom);
        Assert.Contains("id=\"before-after\"", dom);
        Assert.Equal(5, Regex.Matches(dom, "<img ").Count);
        Assert.DoesNotContain("<b id=\"injected\">", dom);   // the failed trial's error stayed text
        Assert.Contains("<title>shrink optimize: original.onnx</title>", dom);   // no injected script renamed the page
    }

    [Fact]
    public void Shrink_report_of_a_directory_without_a_run_is_one_line_and_exit_code_2()
    {
        using var dir = new TempDirectory();
        CliRunner.AssertBadInput(CliRunner.Run("report", dir.File("missing")), "does not exist; give the --out directory of shrink optimize");
        CliRunner.AssertBadInput(CliRunner.Run("report", dir.Path), "holds no optimize run (no result.json)");
        Assert.False(File.Exists(dir.File("report.html")));
    }

    private static string? Chromium() =>
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
