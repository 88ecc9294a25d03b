using System.Text.Json;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes.Quantization;
using Shrink.Recipes;
using Shrink.Techniques;
using Shrink.Training.Optimization;
using Shrink.Zoo;

namespace Shrink.TestSupport;

/// <summary>
/// A hand-made optimize run directory for the report's tests, without running a search: the zoo's lenet5 as the original;
/// as the chosen trial (2 of 5), lenet5 with half of conv2's weights zeroed, the first convolution renamed to
/// <see cref="Hostile"/>, weight-only int8 everywhere but gemm2 (float), and stage files that record two fine-tuning
/// epochs and a 5-bit codebook of gemm2's weight; the other trials: one within the budget, one over it by 0.7 points, one
/// failed with <see cref="HostileError"/>, one not run.
/// </summary>
internal static class ReportRuns
{
    /// <summary>A layer name that would break the page (and run a script) if it were not escaped.</summary>
    public const string Hostile = "<img src=x onerror=\"document.title='pwned'\">&conv'1";

    /// <summary>A failed trial's error that would add an element if it were not escaped.</summary>
    public const string HostileError = "NaN loss in <b id=\"injected\">epoch 1</b> & more";

    /// <summary>Writes the run into <c>run</c> under <paramref name="dir"/>; its result is also <c>run/result.json</c>.</summary>
    public static OptimizeResult Write(TempDirectory dir)
    {
        var original = dir.File("original.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet5", 0), original);
        var run = dir.File("run");
        var trial = Path.Combine(run, "trials", "0002");
        Directory.CreateDirectory(trial);
        OnnxWriter.Write(Chosen(), Path.Combine(trial, "02-quantize.onnx"));
        File.WriteAllText(Path.Combine(trial, "01-prune.json"), new StageMetrics { Stage = 1, Technique = "prune", Model = "01-prune.onnx", Training = Epochs() }.ToJson());
        File.WriteAllText(Path.Combine(trial, "02-quantize.json"), new StageMetrics { Stage = 2, Technique = "quantize", Model = "02-quantize.onnx", Artifacts = [Codebook()] }.ToJson());
        File.WriteAllText(Path.Combine(run, RunFiles.BestRecipe), "version: 1\n");
        var result = Result(original, run);
        File.WriteAllText(Path.Combine(run, RunFiles.ResultFile), result.ToJson());
        return result;
    }

    private static Model Chosen()
    {
        var model = ModelZoo.Create("lenet5", 0);
        var conv2 = model.Graph.Initializers.Single(v => v.Name == "conv2.weight").Const!.AsFloats();
        for (var i = 0; i < conv2.Length / 2; i++) conv2[i] = 0;
        var quantized = Quantizer.WeightOnly(model, new QuantizeOptions { Layers = new Dictionary<string, WeightPrecision> { ["gemm2"] = WeightPrecision.Float } }).Model;
        quantized.Graph.Nodes.First(n => n.OpType == "Conv").Name = Hostile;
        return quantized;
    }

    private static List<TechniqueEpoch> Epochs() =>
    [
        new("fine-tune", 1, 2, 0.9, 0.7, 0.8, 0.71, 0.01, 1, 100),
        new("fine-tune", 2, 2, 0.6, 0.8, 0.65, 0.78, 0.005, 1, 100),
    ];

    private static JsonElement Codebook() =>
        JsonDocument.Parse("""{ "kind": "codebooks", "version": 1, "weights": { "gemm2.weight": { "bits": 5, "centroids": [0.1, 0.2] } } }""").RootElement.Clone();

    private static OptimizeResult Result(string original, string run)
    {
        var t0 = new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        TrialSummary Trial(int n, string status, string summary, double? drop, bool feasible, string? model = null, string? error = null)
        {
            var metrics = drop is { } d
                ? new Dictionary<string, double>
                {
                    [TrialMetrics.Bytes] = 400_000 - 50_000 * n, [TrialMetrics.FileBytes] = 420_000 - 50_000 * n, [TrialMetrics.Accuracy] = 91 - d,
                    [TrialMetrics.Drop] = d, [TrialMetrics.DropLow] = d - 0.4, [TrialMetrics.DropHigh] = d + 0.4, [TrialMetrics.Excess] = d - 0.5,
                    [TrialMetrics.Latency] = 20 - n, ["latency_ms_b1"] = 0.4, ["latency_ms_b256"] = 20 - n,
                }
                : new Dictionary<string, double>();
            return new TrialSummary(n, status, summary, new Dictionary<string, JsonElement>(), metrics, model, error, 10, feasible, "random")
            { Started = t0.AddSeconds(12 * n), Finished = t0.AddSeconds(12 * n + 10) };
        }
        var trials = new List<TrialSummary>
        {
            Trial(0, "completed", "static int8, 0 epochs", 0.1, true, "trials/0001/01-quantize.onnx"),
            Trial(1, "completed", "unstructured + static int8, 2 epochs", 0.3, true, "trials/0002/02-quantize.onnx"),
            Trial(2, "completed", "structured 0.5 + static int8, 0 epochs", 1.2, false, "trials/0003/02-quantize.onnx"),
            Trial(3, "failed", "factorize energy 0.9, 1 epoch", null, false, error: HostileError),
            Trial(4, "pruned", "factorize + mixed", null, false, error: "mixed precision names the original layers, which factorization replaces"),
        };
        ParetoPoint Point(int n) => new(n, trials[n].Metrics[TrialMetrics.Drop], null, trials[n].Metrics[TrialMetrics.Bytes], trials[n].Metrics[TrialMetrics.Latency], trials[n].Feasible);
        return new OptimizeResult
        {
            Model = original, Directory = run, Goal = OptimizeGoal.Size, Budget = "accuracy drop ≤ 0.5 points", MaxAccuracyDrop = 0.5,
            Baseline = new BaselineFigures(1_724_320, 1_725_470, 91.0, new Dictionary<string, double> { ["latency_ms_b1"] = 0.5, ["latency_ms_b256"] = 21 }),
            Best = trials[1], Met = true, Trials = trials, Stop = "trial-limit",
            Final = new FinalEvaluation(1000, new ConfidenceInterval(90.7, 88.9, 92.4, 0.95, 1000, 1000), new ConfidenceInterval(0.3, -0.2, 0.8, 0.95, 1000, 1000), null),
            Pareto = new ParetoFronts([Point(0), Point(1), Point(2)], [Point(0), Point(1), Point(2)]),
        };
    }
}
