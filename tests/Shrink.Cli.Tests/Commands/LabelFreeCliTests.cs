using System.Text.Json;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>
/// Label-free runs of every command on inputs only (.npy, .npz; no labels): fine-tuning distills from the original model,
/// and each command prints each output's fidelity to the original — top-1 agreement on a classifier, cosine similarity, SQNR
/// and max |error| — in its table and its JSON; on a model without a classification output (segnet_tiny: a [4, 16, 16] map),
/// and on a model of two inputs, one of them int64 token ids. <c>eval</c> without labels refuses accuracy in one line and,
/// with <c>--reference</c>, reports the same fidelity the compression command did.
/// </summary>
[Collection("torch")] // the fine-tunings train
public class LabelFreeCliTests
{
    private static readonly string Segnet = TestModels.TorchFile("segnet_tiny.onnx");  // [batch, 3, 16, 16] → [batch, 4, 16, 16]
    private static readonly string Resnet = TestModels.TorchFile("resnet_tiny.onnx");  // [batch, 3, 32, 32] → [batch, 10]

    private static readonly string[] Tuning = ["--finetune-epochs", "1", "--batch", "8"];

    /// <summary>The "after" side's fidelity to "before" in a command's JSON: one output, its four figures in their ranges.</summary>
    private static JsonElement Fidelity(CliRunner.Result r, string output, bool classifier, int samples)
    {
        Assert.True(r.ExitCode == 0, r.Err);
        var after = JsonDocument.Parse(r.Out).RootElement.GetProperty("after");
        Assert.False(after.TryGetProperty("accuracy", out _));  // no labels: no accuracy
        var f = Assert.Single(after.GetProperty("fidelity").EnumerateArray().ToList());
        Assert.Equal(output, f.GetProperty("output").GetString());
        Assert.Equal(samples, f.GetProperty("samples").GetInt32());
        Assert.Equal(classifier, f.TryGetProperty("top1Agreement", out var agreement));
        if (classifier) Assert.InRange(agreement.GetDouble(), 0, 1);
        Assert.InRange(f.GetProperty("cosine").GetDouble(), 0.5, 1);
        Assert.True(f.GetProperty("sqnrDb").GetDouble() > 3, f.ToString());  // compressed, not destroyed: the error below half the signal
        Assert.True(f.GetProperty("maxAbsError").GetDouble() > 0);
        return f.Clone();
    }

    /// <summary>The table rows of the fidelity figures (the console wraps at 120 columns; a row stays on its line).</summary>
    private static void AssertFidelityRows(CliRunner.Result r, string output, bool classifier)
    {
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Equal(classifier, r.Out.Contains($"{output}: top-1 agreement with before"));
        foreach (var row in new[] { "cosine similarity to before", "SQNR against before", "max |error| against before" })
            Assert.Contains($"{output}: {row}", r.Out);
        Assert.DoesNotContain("accuracy (ONNX Runtime)", r.Out);
    }

    [Fact]
    public void Prune_ASegmentationModel_DistillsFromTheOriginal_AndEvalReportsTheSameFidelity()
    {
        using var dir = new TempDirectory();
        var x = DataFiles.Npy(dir.File("x.npy"), DataFiles.Normal(0, 16, 3, 16, 16));
        string[] Args(string file) => ["prune", Segnet, "--sparsity", "0.5", .. Tuning, "--data", x, "--bench-batch", "none", "--out", dir.File(file)];
        var json = CliRunner.Run([.. Args("p.onnx"), "--json"]);
        var pruned = Fidelity(json, "output", classifier: false, samples: 16);
        Assert.Contains("distilling from the original model", json.Err);
        AssertFidelityRows(CliRunner.Run(Args("p2.onnx")), "output", classifier: false);

        CliRunner.AssertBadInput(CliRunner.Run("eval", dir.File("p.onnx"), "--data", x),
            $"NumPy array {x}: 16 samples of x: float32[3,16,16], no labels has no labels: give --reference ORIGINAL.onnx to measure fidelity to the original, or labelled data");
        var eval = CliRunner.Run("eval", dir.File("p.onnx"), "--data", x, "--reference", Segnet, "--json");
        Assert.True(eval.ExitCode == 0, eval.Err);
        var measured = Assert.Single(JsonDocument.Parse(eval.Out).RootElement.GetProperty("fidelity").EnumerateArray().ToList());
        foreach (var figure in new[] { "cosine", "sqnrDb", "maxAbsError" })  // the same models on the same data in ONNX Runtime
            Assert.Equal(pruned.GetProperty(figure).GetDouble(), measured.GetProperty(figure).GetDouble(), 1e-6);
        var text = CliRunner.Run("eval", dir.File("p.onnx"), "--data", x, "--reference", Segnet);
        Assert.Contains($"fidelity to {Segnet} on NumPy array {x}", text.Out.ReplaceLineEndings(""));
    }

    [Fact]
    public void Cluster_AndFactorize_WithFineTuning_ReportFidelityWithTopOneAgreement()
    {
        using var dir = new TempDirectory();
        var x = DataFiles.Npy(dir.File("x.npy"), DataFiles.Normal(1, 16, 3, 32, 32));
        var cluster = CliRunner.Run(["cluster", Resnet, "--bits", "4", .. Tuning, "--data", x, "--out", dir.File("c.onnx"), "--json"]);
        Fidelity(cluster, "output", classifier: true, samples: 16);
        Assert.Contains("centroid fine-tune: distilling from the original model", cluster.Err);

        string[] Factorize(string file) => ["factorize", Resnet, "--ratio", "0.6", .. Tuning, "--data", x, "--bench-batch", "none", "--out", dir.File(file)];
        Fidelity(CliRunner.Run([.. Factorize("f.onnx"), "--json"]), "output", classifier: true, samples: 16);
        AssertFidelityRows(CliRunner.Run(Factorize("f2.onnx")), "output", classifier: true);
    }

    [Fact]
    public void QuantizeStatic_CalibratesFromANpzOfTwoInputs_OneOfThemInt64_AndReportsFidelity()
    {
        using var dir = new TempDirectory();
        var model = DataFiles.TwoInputs(dir);
        var calib = DataFiles.Npz(dir.File("calib.npz"), ("features", DataFiles.Normal(0, 32, 8)), ("ids", DataFiles.Ids(0, 32, 4, 16)));
        var test = DataFiles.Npz(dir.File("test.npz"), ("ids", DataFiles.Ids(1, 24, 4, 16)), ("features", DataFiles.Normal(1, 24, 8)));
        string[] Args(string file) => ["quantize", model, "--calib-data", calib, "--data", test, "--bench-batch", "none", "--out", dir.File(file)];
        var json = CliRunner.Run([.. Args("q.onnx"), "--json"]);
        var f = Fidelity(json, "logits", classifier: true, samples: 24);
        Assert.True(f.GetProperty("top1Agreement").GetDouble() >= 0.9, f.ToString());  // int8 of a 5-way linear classifier rarely changes its choice
        Assert.Equal(32, JsonDocument.Parse(json.Out).RootElement.GetProperty("calibrationSamples").GetInt32());
        Assert.Contains("QuantizeLinear", Shrink.Onnx.OnnxReader.Read(dir.File("q.onnx")).Graph.Nodes.Select(n => n.OpType));
        AssertFidelityRows(CliRunner.Run(Args("q2.onnx")), "logits", classifier: true);
    }
}
