using System.Text.Json;
using Shrink.Architecture;
using Shrink.Onnx;
using Shrink.Recipes;
using Shrink.Runtime;
using Shrink.Techniques;
using Shrink.TestSupport;
using Shrink.Training.Architecture;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Training.Tests.Architecture;

/// <summary>
/// The latency table mode of <see cref="ArchitectureSearch"/> (pruning on the prediction before a candidate is built, the
/// agreement with measurement, the cache kept across a resume) and what a run ends with: the front's and the best models,
/// the reference points, <c>report.json</c>.
/// </summary>
[Collection("torch")]
public class SearchOutputsTests
{
    private const string Tiny = """
        stages:
          - block: [conv, depthwise, inverted]
            channels: [4, 8]
            stride: [2]
            expansion: [2]
            activation: [relu, hardswish]
            pool: [none, max]
        head: { classifier: [0, 16] }
        """;

    private static readonly RecipeData Data = new() { FashionMnist = RecipeData.Embedded, TrainLimit = 64 };
    private static ArchitectureSpace Space => ArchitectureSpace.Parse(Tiny, "tiny.yaml");

    private static ArchitectureSearchOptions Options(int trials) => new()
    {
        Trials = trials, Strategy = ArchitectureStrategy.Random, Seed = 5, LargeBatch = 8, Latency = LatencyMode.Table, References = [],
        Objectives = [ArchitectureMetrics.ParseGoal("accuracy"), ArchitectureMetrics.ParseGoal("latency_b1")],
    };

    [Fact]
    public void A_latency_constraint_prunes_every_candidate_on_the_tables_prediction_before_it_is_built()
    {
        using var dir = new TempDirectory();
        var result = ArchitectureSearch.Run(Space, Data, Options(3) with { Constraints = [ArchitectureMetrics.ParseConstraint("latency_b1_ms < 0.000001")] },
            dir.File("run"), TechniqueSession.Quiet);
        Assert.All(result.Trials, t =>
        {
            Assert.Equal("pruned", t.Status);
            Assert.StartsWith("before building: the latency table predicts latency_b1_ms ", t.Reason);
            Assert.True(t.Metrics["predicted_latency_b1_ms"] > 0 && t.Metrics["predicted_latency_b8_ms"] > 0);
            Assert.False(t.Metrics.ContainsKey(ArchitectureMetrics.Params));   // not even built
        });
        Assert.False(Directory.Exists(dir.File("run/trials")));
        Assert.True(File.Exists(dir.File("run/latency-table.json")));
        Assert.True(result.LatencyTable!.Blocks >= 3);
        Assert.All(result.LatencyTable.Agreement, a => Assert.Equal(0, a.Trials));
    }

    [Fact]
    public void Table_mode_reports_the_agreement_on_measured_trials_and_a_resume_reuses_the_cached_blocks()
    {
        using var dir = new TempDirectory();
        var first = ArchitectureSearch.Run(Space, Data, Options(2), dir.File("run"), TechniqueSession.Quiet);
        Assert.All(first.Trials, t => Assert.True(t.Metrics["predicted_latency_b1_ms"] > 0 && t.Metrics["latency_b1_ms"] > 0));
        Assert.Equal(new[] { 1, 8 }, first.LatencyTable!.Uncalibrated.Select(a => a.Batch));
        Assert.All(first.LatencyTable.Uncalibrated, a =>
        {
            Assert.Equal(2, a.Trials);
            Assert.InRange(a.WithinTenPercent, 0, 1);
        });
        // before 3 measured trials nothing is calibrated: the prediction is the table's sum, and no calibrated agreement is claimed
        Assert.All(first.Trials, t => Assert.Equal((0.0, t.Metrics["table_latency_b1_ms"]), (t.Metrics["calibration_trials"], t.Metrics["predicted_latency_b1_ms"])));
        Assert.All(first.LatencyTable.Agreement, a => Assert.Equal(0, a.Trials));
        Assert.Empty(first.LatencyTable.Calibration);
        var pairs = first.Trials.Select(t => (t.Metrics["table_latency_b1_ms"], t.Metrics["latency_b1_ms"])).ToList();
        Assert.Equal(LatencyAgreement.Of(1, pairs), first.LatencyTable.Uncalibrated[0]);
        var before = Blocks(dir.File("run/latency-table.json"));
        // pieces are timed in context: the table holds pairs of neighbours, and the sum of the pieces alone is kept beside the prediction
        Assert.Contains(before.Keys, k => k.Contains(" | "));
        Assert.All(first.Trials, t => Assert.True(t.Metrics["table_alone_latency_b1_ms"] > 0 && t.Metrics["table_alone_latency_b8_ms"] > 0));

        var resumed = ArchitectureSearch.Run(Space, Data, Options(4) with { Resume = true }, dir.File("run"), TechniqueSession.Quiet);
        Assert.Equal(4, resumed.LatencyTable!.Uncalibrated[0].Trials);
        // the 4th trial is predicted through the calibration fitted on the first 3 (the first run's 2 kept in the table's file), not on itself
        var trials = resumed.Trials.OrderBy(t => t.Number).ToList();
        Assert.Equal(new[] { 0.0, 0, 0, 3 }, trials.Select(t => t.Metrics["calibration_trials"]));
        foreach (var batch in new[] { 1, 8 })
        {
            var fit = LatencyCalibration.Fit(batch, [0, 1, 2], trials.Take(3).Select(t => (t.Metrics[$"table_latency_b{batch}_ms"], t.Metrics[$"latency_b{batch}_ms"])).ToList());
            Assert.Equal(fit.Apply(trials[3].Metrics[$"table_latency_b{batch}_ms"]), trials[3].Metrics[$"predicted_latency_b{batch}_ms"], 9);
        }
        Assert.All(resumed.LatencyTable.Agreement, a => Assert.Equal(1, a.Trials));
        Assert.Equal(LatencyAgreement.Of(1, [(trials[3].Metrics["predicted_latency_b1_ms"], trials[3].Metrics["latency_b1_ms"])]), resumed.LatencyTable.Agreement[0]);
        Assert.Equal(new[] { 0, 1, 2, 3 }, resumed.LatencyTable.Calibration[0].Trials);   // what the next prediction would use
        var after = Blocks(dir.File("run/latency-table.json"));
        foreach (var (key, value) in before) Assert.Equal(value, after[key]);   // measured once: kept as they were
        Assert.True(after.Count >= before.Count);
    }

    [Fact]
    public void A_run_ends_with_the_front_and_best_models_the_reference_points_and_the_report()
    {
        using var dir = new TempDirectory();
        var given = dir.File("lenet300.onnx");
        ModelSaver.Save(ModelZoo.Create("lenet300", 1), given);
        var options = Options(2) with { Latency = LatencyMode.Measured, References = [new ReferenceModel("lenet5"), ReferenceModel.Parse($"mlp={given}")] };
        var result = ArchitectureSearch.Run(Space, Data, options, dir.File("run"), TechniqueSession.Quiet);

        Assert.Equal(result.Pareto.Count, result.FrontModels.Count);
        Assert.All(result.FrontModels, f =>
        {
            Assert.Equal(dir.File($"run/front/trial-{f.Trial + 1:D4}.onnx"), f.Model);
            using var runner = OnnxRunner.Load(f.Model);
            Assert.Equal(result.Trials.First(t => t.Number == f.Trial).Metrics, f.Metrics);   // no final epochs: the trial's own model
        });
        Assert.Equal(2, result.Final.Count);
        Assert.Null(result.LatencyTable);

        Assert.Equal(new[] { "lenet5", "mlp" }, result.References.Select(r => r.Name));
        var lenet5 = result.References[0];
        Assert.Equal(dir.File("run/references/lenet5-e1.onnx"), lenet5.Model);
        Assert.Equal(1, lenet5.Epochs);
        Assert.Contains("trained here for 1 epoch as a trial is", lenet5.Source);
        Assert.InRange(lenet5.Metrics[ArchitectureMetrics.Accuracy], 0, 100);
        Assert.True(lenet5.Metrics["latency_b1_ms"] > 0 && lenet5.Metrics[ArchitectureMetrics.Params] == 431_080);
        Assert.Contains("as given", result.References[1].Source);
        Assert.Equal(266_610, result.References[1].Metrics[ArchitectureMetrics.Params]);

        using var report = JsonDocument.Parse(File.ReadAllText(dir.File("run/report.json")));
        var kinds = report.RootElement.GetProperty("points").EnumerateArray().Select(p => p.GetProperty("kind").GetString()).ToList();
        Assert.Equal(2, kinds.Count(k => k == "trial"));
        Assert.Equal(2, kinds.Count(k => k == "reference"));
        Assert.True(File.Exists(dir.File("run/report.html")));
        Assert.Equal(result.Report, dir.File("run/report.html"));
    }

    private static Dictionary<string, string> Blocks(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("machines")[0].GetProperty("blocks").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText());
    }
}
