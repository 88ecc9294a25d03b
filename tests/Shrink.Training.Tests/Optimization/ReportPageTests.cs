using System.Text.Json;
using System.Text.RegularExpressions;
using Shrink.Recipes;
using Shrink.Stats;
using Shrink.Techniques;
using Shrink.Training.Optimization;
using Xunit;

namespace Shrink.Training.Tests.Optimization;

/// <summary>
/// <see cref="ReportPage"/> on a hand-made run (<see cref="ReportRuns"/>): report.json's figures read from the two models,
/// layers, curves, fronts and rejections; the page self-contained and escaped; and the stage files recording training epochs.
/// </summary>
[Collection("torch")]
public class ReportPageTests
{
    public ReportPageTests() => TrainingTechniques.Register();

    [Fact]
    public void The_report_holds_both_models_figures_the_chosen_layers_curves_fronts_and_why_each_trial_was_rejected()
    {
        using var dir = new TempDirectory();
        var result = ReportRuns.Write(dir);
        var report = ReportPage.Write(result, dir.File("run"));
        Assert.Equal(report.ToJson(), File.ReadAllText(dir.File("run/report.json")));
        Assert.Equal(report.ToJson(), RunReport.FromJson(report.ToJson()).ToJson());

        var original = ModelStats.Compute(dir.File("original.onnx"));
        var chosen = ModelStats.Compute(dir.File("run/trials/0002/02-quantize.onnx"));
        Assert.Equal((original.Parameters, original.NonZero, (long?)original.Macs), (report.Original.Parameters, report.Original.NonZero, report.Original.Macs));
        Assert.Equal((chosen.Parameters, chosen.NonZero, (long?)chosen.Macs), (report.Result!.Parameters, report.Result.NonZero, report.Result.Macs));
        Assert.Equal((1_724_320L, 1_725_470L, 91.0), (report.Original.PackedBytes, report.Original.Bytes, report.Original.Accuracy));
        Assert.Equal((350_000L, 370_000L, 90.7), (report.Result.PackedBytes, report.Result.Bytes, report.Result.Accuracy));
        Assert.Equal(new Dictionary<int, double> { [1] = 0.5, [256] = 21 }, report.Original.LatencyMs);
        Assert.Equal(new Dictionary<int, double> { [1] = 0.4, [256] = 19 }, report.Result.LatencyMs);
        Assert.Equal(2, report.Chosen);

        // Layers: int8 weights behind DequantizeLinear, gemm2 float but given a 5-bit codebook, conv2 half zero.
        Assert.Equal(new[] { ReportRuns.Hostile, "conv2", "gemm1", "gemm2" }, report.Layers.Select(l => l.Layer));
        Assert.Equal(new[] { "int8", "int8", "int8", "shared 5 bits" }, report.Layers.Select(l => l.Precision));
        Assert.Equal(0.5, report.Layers[1].Sparsity, 0.01);
        Assert.Equal(0, report.Layers[2].Sparsity, 0.01);

        var curve = Assert.Single(report.Training);
        Assert.Equal("stage 1 (prune): fine-tune", curve.Label);
        Assert.Equal(new[] { (1, 0.9, (double?)0.8), (2, 0.6, 0.65) }, curve.Epochs.Select(e => (e.Epoch, e.TrainLoss, e.TestLoss)));

        Assert.Equal(new double?[] { 0, 12, 24, 36, 48 }, report.Trials.Select(t => t.Start));
        Assert.Equal(new double?[] { 10, 22, 34, 46, 58 }, report.Trials.Select(t => t.Finish));
        Assert.Equal(new double?[] { 400_000, 350_000, 300_000, null, null }, report.Trials.Select(t => t.Objective));
        Assert.Equal(new[] { 1, 2, 3 }, report.SizeFront.Select(p => p.Trial));
        Assert.Equal(new[] { false, true, false }, report.SizeFront.Select(p => p.Chosen));

        Assert.Equal(new[] { 3, 4, 5 }, report.Rejected.Select(r => r.Number));
        Assert.Equal("over the budget by 0.70 points: a drop of 1.20 points against at most 0.5", report.Rejected[0].Reason);
        Assert.Equal($"failed: {ReportRuns.HostileError}", report.Rejected[1].Reason);
        Assert.StartsWith("not run: mixed precision names", report.Rejected[2].Reason);
        Assert.Equal(dir.File("run/best.recipe.yaml"), report.Recipe);
    }

    [Fact]
    public void The_page_is_self_contained_and_escapes_every_name_and_error()
    {
        using var dir = new TempDirectory();
        ReportRuns.Write(dir);
        var report = ReportPage.Write(dir.File("run"));   // from result.json, as shrink report does
        var html = File.ReadAllText(dir.File("run/report.html"));
        Assert.DoesNotContain(ReportRuns.Hostile, html);
        Assert.DoesNotContain(ReportRuns.HostileError, html);
        Assert.Contains(System.Net.WebUtility.HtmlEncode(ReportRuns.Hostile), html);
        Assert.Contains(System.Net.WebUtility.HtmlEncode(ReportRuns.HostileError), html);
        // Nothing is fetched: every src is a data URI, and no address outside the SVG namespace appears.
        Assert.All(Regex.Matches(html, "src=\"([^\"]*)\"").Select(m => m.Groups[1].Value), src => Assert.StartsWith("data:image/svg+xml;base64,", src));
        Assert.Equal(5, Regex.Matches(html, "<img ").Count);   // trials, two fronts, layers, training
        Assert.DoesNotContain("http", Regex.Replace(html, "src=\"[^\"]*\"", ""));
        foreach (Match m in Regex.Matches(html, "src=\"data:image/svg\\+xml;base64,([^\"]*)\""))
        {
            var svg = System.Xml.Linq.XDocument.Parse(System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(m.Groups[1].Value)));   // well-formed XML
            Assert.Equal("svg", svg.Root!.Name.LocalName);
        }
        Assert.Contains($"shrink recipe run {report.Recipe}", html);
        Assert.Contains("id=\"before-after\"", html);
        Assert.Contains("Trial 2 meets the budget", html);
    }

    [Fact]
    public void A_directory_without_an_optimize_run_is_refused_in_one_line()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<OptionsException>(() => ReportPage.Write(dir.Path));
        Assert.Contains("holds no optimize run (no result.json)", e.Message);
        File.WriteAllText(dir.File("result.json"), "{ not json");
        e = Assert.Throws<OptionsException>(() => ReportPage.Write(dir.Path));
        Assert.Contains("is not an optimize result", e.Message);
        Assert.False(File.Exists(dir.File("report.html")));
    }

    [Fact]
    public void A_stage_that_fine_tunes_records_its_epochs_and_one_that_does_not_records_none()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("fmnist"));
        IdxTestFiles.WriteLearnableSet(dir.File("fmnist"), train: 128, test: 32);
        var recipe = RecipeText.Load(dir, """
            version: 1
            model: { zoo: lenet300, seed: 1 }
            data: { fashion-mnist: fmnist }
            stages:
              - technique: prune-unstructured
                options: { sparsity: 0.5 }
              - technique: fine-tune
                options: { epochs: 2, batch: 64 }
            """);
        RecipeRunner.Run(recipe, dir.File("run"), TechniqueSession.Quiet);
        Assert.Null(StageMetrics.TryRead(dir.File("run/01-prune-unstructured.json"))!.Training);
        Assert.DoesNotContain("\"training\"", File.ReadAllText(dir.File("run/01-prune-unstructured.json")));
        var epochs = StageMetrics.TryRead(dir.File("run/02-fine-tune.json"))!.Training!;
        Assert.Equal(new[] { 1, 2 }, epochs.Select(e => e.Epoch));
        Assert.All(epochs, e => Assert.True(double.IsFinite(e.TrainLoss) && e.TrainLoss > 0 && e.Label == "fine-tune"));
    }
}
