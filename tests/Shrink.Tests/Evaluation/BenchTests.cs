using Shrink.Evaluation;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Evaluation;

/// <summary>Bench from the library: alone, the timed runs asked for; against another model, the rows and the verdict from the same interleaved runs.</summary>
[Collection("latency")]
public class BenchTests
{
    private static readonly BenchSettings Quick = new() { Batches = new[] { 1, 4 }, Warmup = 1, Runs = 10, Runner = new RunnerOptions { Threads = 1 } };

    [Fact]
    public void OneModel_GivesARowPerBatchSize()
    {
        using var dir = new TempDirectory();
        ModelSaver.Save(ModelZoo.Create("lenet300"), dir.File("a.onnx"));

        var result = Bench.Run(dir.File("a.onnx"), null, Quick);

        Assert.Null(result.Comparison);
        Assert.Equal(new[] { 1, 4 }, result.Rows.Select(r => r.Batch));
        Assert.All(result.Rows, r => Assert.Equal((10, new FileInfo(dir.File("a.onnx")).Length), (r.Runs, r.Bytes)));
        Assert.All(result.Rows, r => Assert.True(r.P50Ms <= r.P90Ms && r.P90Ms <= r.P99Ms, $"{r}"));
    }

    [Fact]
    public void AgainstAnotherModel_TheRowsAreTheComparisonsRuns()
    {
        using var dir = new TempDirectory();
        ModelSaver.Save(ModelZoo.Create("lenet300"), dir.File("a.onnx"));
        ModelSaver.Save(ModelZoo.Create("lenet5"), dir.File("b.onnx"));

        var result = Bench.Run(dir.File("a.onnx"), dir.File("b.onnx"), Quick);

        var comparison = result.Comparison!;
        Assert.Equal(new[] { 1, 4 }, comparison.Select(c => c.Batch));
        Assert.Equal(new[] { "a.onnx", "a.onnx", "b.onnx", "b.onnx" }, result.Rows.Select(r => Path.GetFileName(r.Model)));
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(comparison[i].Candidate.P50Ms, result.Rows[i].P50Ms);       // MODEL is the candidate
            Assert.Equal(comparison[i].Baseline.P50Ms, result.Rows[i + 2].P50Ms);    // OTHER the baseline
            Assert.Equal(10, result.Rows[i].Runs);                                     // 2 rounds of 5
        }
    }

    [Fact]
    public void BadSettings_NameTheSetting()
    {
        Assert.Equal("Warmup", Assert.Throws<OptionsException>(() => (Quick with { Warmup = -1 }).Validate()).Option);
        Assert.Equal("runs 0 is out of range; use 1 or more", Assert.Throws<OptionsException>(() => (Quick with { Runs = 0 }).Validate()).Message);
    }
}
