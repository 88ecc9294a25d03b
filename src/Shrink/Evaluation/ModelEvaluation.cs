using System.IO.Compression;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Stats;
using Shrink.Text;

namespace Shrink.Evaluation;

/// <summary>How <see cref="ModelEvaluation.Compare"/> times the two models at each batch size.</summary>
public sealed record LatencySettings
{
    /// <summary>Untimed runs of each model before the first timed round.</summary>
    public int Warmup { get; init; } = 10;

    /// <summary>Rounds of timed runs; which model goes first alternates from round to round (at least 2).</summary>
    public int Rounds { get; init; } = 10;

    /// <summary>Timed runs of one model in a row within a round.</summary>
    public int RunsPerRound { get; init; } = 5;
}

/// <summary>
/// Measurement of models, as every compression command reports it: <see cref="Measure(string, Dataset?)"/> one file,
/// <see cref="Compare"/> a model before and after a technique, latency measured interleaved with the noise-aware verdict.
/// </summary>
public static class ModelEvaluation
{
    /// <summary>Batch size of the accuracy evaluation in ONNX Runtime.</summary>
    public const int EvaluationBatch = 256;

    /// <summary>Size, parameters, MACs and (with <paramref name="test"/>) ONNX Runtime accuracy of one model file; no latency.</summary>
    public static ModelMeasurement Measure(string path, Dataset? test)
    {
        var stats = ModelStats.Compute(path);
        double? accuracy = test is null ? null : Accuracy(path, test);
        return new ModelMeasurement(stats.BytesOnDisk, GzipBytes(path), stats.PackedBytes, stats.Parameters, stats.NonZero, stats.Sparsity, stats.Macs,
            Array.Empty<LatencyRow>(), accuracy) { Stats = stats };
    }

    /// <summary>
    /// Measures a model that has no file of its own: it is written (and checked) into a temporary file, which is
    /// measured as <see cref="Measure(string, Dataset?)"/> measures a file and removed after.
    /// </summary>
    public static ModelMeasurement Measure(Model model, Dataset? test)
    {
        var path = Path.Combine(Path.GetTempPath(), $"shrink-measure-{Guid.NewGuid():N}.onnx");
        using var staged = ModelSaver.Stage(model, path);  // never committed: disposing removes it
        return Measure(staged.TempPath, test);
    }

    /// <summary>Top-1 accuracy of an in-memory model on <paramref name="test"/> in ONNX Runtime (<paramref name="source"/> names it in messages).</summary>
    public static double Accuracy(Model model, Dataset test, string source = "model")
    {
        using var runner = OnnxRunner.FromModel(model, source: source);
        return runner.Evaluate(test, EvaluationBatch).Accuracy;
    }

    /// <summary>Top-1 accuracy of a model file on <paramref name="test"/> in ONNX Runtime.</summary>
    public static double Accuracy(string path, Dataset test)
    {
        using var runner = OnnxRunner.Load(path);
        return runner.Evaluate(test, EvaluationBatch).Accuracy;
    }

    /// <summary>
    /// Both sides of a before/after comparison, with their latency measured together, interleaved, at each batch size
    /// (<see cref="LatencyComparison"/>): the p50 rows and the verdict always come from the same runs. A batch size
    /// the models cannot run (a fixed batch, inputs too large) ends the latency measurement with a note instead of failing;
    /// the options it names are named by <paramref name="naming"/> (default: the library's words).
    /// </summary>
    public static Comparison Compare(string beforePath, string afterPath, Dataset? test, IReadOnlyList<int> batches, RunnerOptions? runner = null,
        LatencySettings? latency = null, OptionNaming? naming = null)
    {
        var before = Measure(beforePath, test);
        var after = Measure(afterPath, test);
        var notes = new List<string>();
        var rows = batches.Count == 0 ? Array.Empty<LatencyComparisonRow>() : CompareLatency(beforePath, afterPath, batches, runner ?? new(), latency ?? new(), notes, naming);
        return new Comparison(
            before with { Latency = rows.Select(r => LatencyRow.From(r.Batch, r.Baseline)).ToList() },
            after with { Latency = rows.Select(r => LatencyRow.From(r.Batch, r.Candidate)).ToList(), Comparison = rows },
            rows, notes);
    }

    private static IReadOnlyList<LatencyComparisonRow> CompareLatency(string beforePath, string afterPath, IReadOnlyList<int> batches, RunnerOptions options,
        LatencySettings settings, List<string> notes, OptionNaming? naming)
    {
        using var a = OnnxRunner.Load(beforePath, options);
        using var b = OnnxRunner.Load(afterPath, options);
        var rows = new List<LatencyComparisonRow>();
        foreach (var batch in batches)
        {
            try { rows.AddRange(LatencyComparison.Compare(a, b, new[] { batch }, settings.Warmup, settings.Rounds, settings.RunsPerRound)); }
            catch (OptionsException e)
            {
                notes.Add($"latency not measured: {(naming is null ? e.Message : e.Wording.Render(naming))}");
                break;
            }
        }
        return rows;
    }

    /// <summary>Bytes of the file compressed by gzip at its smallest setting (gzip -9): what the zeros of unstructured pruning save.</summary>
    public static long GzipBytes(string path)
    {
        var bytes = File.ReadAllBytes(path);
        using var compressed = new MemoryStream();
        using (var gz = new GZipStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true)) gz.Write(bytes);
        return compressed.Length;
    }
}
