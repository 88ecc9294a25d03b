using System.Text.RegularExpressions;
using Xunit;

namespace Shrink.Cli.Tests.Reports;

/// <summary>
/// The end of <c>shrink search</c>: the results table on stdout with the reference points, the latency table's agreement line,
/// the front's models, and <c>report.html</c> opened in headless Chromium (<see cref="HeadlessChromium"/>): the page's check
/// marks the body "ok" only when no script error happened, both plots decoded and the results table exists.
/// </summary>
[Collection("torch")]
public class SearchReportPageTests
{
    private const string Tiny = "stages:\n  - { block: [conv, depthwise], channels: [4, 8], stride: [2], activation: [relu, relu6] }\nhead: { classifier: [0, 16] }\n";

    [Fact]
    public void A_search_ends_with_a_results_table_the_front_models_and_a_report_page_that_loads_in_headless_chromium()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("space.yaml"), Tiny);
        var r = CliRunner.Run("search", "--space", dir.File("space.yaml"), "--data", "embedded", "--limit", "64", "--large-batch", "8", "--trials", "4", "--seed", "2",
            "--objective", "accuracy,latency_b1", "--latency", "table", "--final-epochs", "1", "--out", dir.File("run"));
        Assert.True(r.ExitCode == 0, r.Err);
        // the first 3 measured trials calibrate the 4th: one calibrated prediction, four sums
        Assert.Matches(@"latency table: \d+ blocks in .*latency-table\.json; calibrated predictions within ±10 % of the measurement \(trials predicted after the calibration\): b1 \d+ % of 1 trials \(Kendall τ –\), b8 \d+ % of 1 trials .*; the table's sum alone: b1 \d+ % of 4 trials \(Kendall τ (-?[0-9.]+|–)\), b8 .*; calibration on 4 trials: b1 × [0-9.eE+-]+ [+−] [0-9.eE+-]+ ms, b8 × ", r.Out);
        foreach (var name in new[] { "lenet5 (reference)", "lenet300 (reference)", "vgg-small (reference)", "trained 1 epochs", "(front" })
            Assert.Contains(name, r.Out);
        Assert.Contains($"wrote {dir.File("run/report.html")} and report.json", r.Out);
        Assert.Matches(@"wrote \d+ front models? into ", r.Out);
        Assert.NotEmpty(Directory.GetFiles(dir.File("run/front"), "trial-*.onnx"));
        Assert.True(File.Exists(dir.File("run/report.json")));

        if (HeadlessChromium.DomOrSkip(dir.File("run/report.html"), dir.File("profile")) is not { } dom) return;
        Assert.Matches("<body data-check=\"ok\"", dom);
        Assert.Contains("id=\"results\"", dom);
        Assert.Contains("id=\"agreement\"", dom);
        Assert.Equal(2, Regex.Matches(dom, "<img ").Count);   // batch 1 and batch 8
        foreach (var reference in new[] { "lenet5", "lenet300", "vgg-small" })
            Assert.Contains($"the zoo's {reference}, trained here for 1 epoch as a trial is", dom);
        Assert.Contains("<title>shrink search: space.yaml</title>", dom);
    }
}
