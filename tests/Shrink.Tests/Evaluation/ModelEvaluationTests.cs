using System.Text.Json;
using Shrink.Builder;
using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Stats;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Evaluation;

/// <summary>The figures of one model, from its file or from memory.</summary>
public class ModelEvaluationTests
{
    [Fact]
    public void Measure_ReportsTheFileFiguresAndTheAccuracy()
    {
        using var dir = new TempDirectory();
        ModelSaver.Save(ModelZoo.Create("lenet300"), dir.File("m.onnx"));
        var test = FashionMnist.LoadEmbedded().Test.Take(200);

        var m = ModelEvaluation.Measure(dir.File("m.onnx"), test);

        var stats = ModelStats.Compute(dir.File("m.onnx"));
        Assert.Equal(new FileInfo(dir.File("m.onnx")).Length, m.Bytes);
        Assert.Equal((stats.Parameters, stats.NonZero, stats.Macs, stats.PackedBytes), (m.Parameters, m.NonZero, m.Macs, m.PackedBytes));
        Assert.Equal(266_610, m.Parameters);  // 784·300 + 300 + 300·100 + 100 + 100·10 + 10
        Assert.Equal(4 * m.Parameters, m.PackedBytes);
        Assert.InRange(m.GzipBytes, m.Bytes / 2, m.Bytes);  // random float weights hardly compress
        using var runner = OnnxRunner.Load(dir.File("m.onnx"));
        Assert.Equal(runner.Evaluate(test).Accuracy, m.Accuracy);
        Assert.Empty(m.Latency);
        Assert.Null(m.Comparison);
    }

    [Fact]
    public void Measure_WithoutData_HasNoAccuracy_AndAModelInMemoryMeasuresAsItsFile()
    {
        using var dir = new TempDirectory();
        var model = ModelZoo.Create("lenet5");
        ModelSaver.Save(model, dir.File("m.onnx"));

        var fromFile = ModelEvaluation.Measure(dir.File("m.onnx"), null);
        var fromMemory = ModelEvaluation.Measure(model, null);

        Assert.Null(fromFile.Accuracy);
        Assert.Equal(JsonSerializer.Serialize(fromFile), JsonSerializer.Serialize(fromMemory));
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), "*shrink-measure-*"));  // the temporary file is gone
    }

    [Fact]
    public void TheJsonForm_HoldsTheFiguresAndNotTheStatistics()
    {
        using var dir = new TempDirectory();
        ModelSaver.Save(ModelZoo.Create("lenet300"), dir.File("m.onnx"));
        var json = JsonSerializer.Serialize(ModelEvaluation.Measure(dir.File("m.onnx"), null), new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase });

        using var doc = JsonDocument.Parse(json);
        Assert.Equal(new[] { "bytes", "gzipBytes", "packedBytes", "parameters", "nonZero", "sparsity", "macs", "latency", "accuracy", "data", "top5", "loss", "fidelity", "fidelityData", "fidelityWarnings", "comparison" },
            doc.RootElement.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Compare_AtABatchAModelCannotRun_NotesWhyAndKeepsTheBatchesMeasuredBefore()
    {
        using var dir = new TempDirectory();
        ModelSaver.Save(Perceptron(16), dir.File("a.onnx"));
        ModelSaver.Save(Perceptron(8), dir.File("b.onnx"));

        // A million samples of 784 floats is 3.1 GB, more than Shrink allocates for one input.
        var c = ModelEvaluation.Compare(dir.File("a.onnx"), dir.File("b.onnx"), null, new[] { 2, 1_000_000, 4 }, new RunnerOptions { Threads = 1 },
            new LatencySettings { Warmup = 1, Rounds = 2, RunsPerRound = 1 });

        Assert.Equal(new[] { 2 }, c.Latency.Select(r => r.Batch));
        Assert.Equal(new[] { 2 }, c.Before.Latency.Select(r => r.Batch));
        Assert.Equal(c.Latency[0].Baseline.P50Ms, c.Before.Latency[0].P50Ms);
        Assert.Equal(c.Latency[0].Candidate.Q3Ms, c.After.Latency[0].Q3Ms);
        Assert.Equal(2, c.After.Latency[0].Runs);
        Assert.Same(c.Latency, c.After.Comparison);
        var note = Assert.Single(c.Notes);
        Assert.StartsWith("latency not measured: at batch size 1000000", note);
    }

    [Fact]
    public void Compare_WithoutBatches_MeasuresNoLatencyAndClaimsNothing()
    {
        using var dir = new TempDirectory();
        ModelSaver.Save(ModelZoo.Create("lenet300"), dir.File("a.onnx"));

        var c = ModelEvaluation.Compare(dir.File("a.onnx"), dir.File("a.onnx"), null, Array.Empty<int>());

        Assert.False(c.LatencyMeasured);
        Assert.False(c.Faster);
        Assert.Empty(c.Speedups);
        Assert.Equal("", c.Verdicts);
        Assert.Empty(c.Before.Latency);
        Assert.Empty(c.After.Latency);
        Assert.Empty(c.After.Comparison!);
        Assert.Equal(1.0, Assert.Single(c.After.Fidelity!).Cosine, 12);  // a model against itself, on random inputs
        Assert.Equal(JsonSerializer.Serialize(c.Before), JsonSerializer.Serialize(c.After with { Comparison = null, Fidelity = null, FidelityData = null }));
    }

    /// <summary>A two-layer perceptron 784 → hidden → 10: MACs per sample 794·hidden (plus 10·hidden).</summary>
    internal static Model Perceptron(int hidden)
    {
        var b = new NetworkBuilder($"mlp{hidden}");
        var x = b.Input("input", 784);
        b.Output(b.Linear(b.Relu(b.Linear(x, hidden)), 10), "output");
        return b.Build();
    }
}
