using System.Text.RegularExpressions;
using Xunit;

namespace Shrink.Cli.Tests.Reports;

/// <summary>
/// <c>shrink report DIR</c> on a hand-made run (<see cref="ReportRuns"/>), and the page it writes opened in headless
/// Chromium (<see cref="HeadlessChromium"/>): the page's own check marks the body "ok" only when no script error happened,
/// every image decoded and the before/after table exists.
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

        if (HeadlessChromium.DomOrSkip(dir.File("run/report.html"), dir.File("profile")) is not { } dom) return;
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
}
