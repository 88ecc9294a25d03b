using Shrink.Evaluation;
using Shrink.Runtime;
using Xunit;

namespace Shrink.Tests.Evaluation;

/// <summary>Latency measurements run alone: other tests' threads on a 2-core machine are exactly the noise the rule must survive, not add.</summary>
[CollectionDefinition("latency", DisableParallelization = true)]
public class LatencyCollection;

/// <summary>
/// The noise-aware speed-up rule on real measurements: interleaved rounds, faster or slower only when the interquartile
/// ranges are apart; and the words printed for a verdict always agree with the verdict and with the ratio beside them.
/// </summary>
[Collection("latency")]
public class SpeedupRuleTests
{
    private static readonly RunnerOptions OneThread = new() { Threads = 1 };

    [Fact]
    public void TwoIdenticalModels_AreWithinNoise()
    {
        using var dir = new TempDirectory();
        ModelSaver.Save(ModelEvaluationTests.Perceptron(256), dir.File("a.onnx"));
        File.Copy(dir.File("a.onnx"), dir.File("b.onnx"));

        var c = ModelEvaluation.Compare(dir.File("a.onnx"), dir.File("b.onnx"), null, new[] { 64 }, OneThread, new LatencySettings { Rounds = 20 });

        var row = Assert.Single(c.Latency);
        Assert.Equal(LatencyVerdict.WithinNoise, row.Verdict);
        Assert.False(c.Faster);
        Assert.StartsWith("NOT faster: within noise (", row.Words);
        Assert.Equal(100, row.Candidate.Runs);
    }

    [Fact]
    public void AModelWithHalfTheMacs_IsFasterAtALargeBatch()
    {
        using var dir = new TempDirectory();
        ModelSaver.Save(ModelEvaluationTests.Perceptron(1024), dir.File("big.onnx"));
        ModelSaver.Save(ModelEvaluationTests.Perceptron(512), dir.File("half.onnx"));

        // A machine shared with builds can widen the ranges past a 2x difference for a while: up to three measurements,
        // none of which may say slower, and one of which must say faster.
        var attempts = new List<Comparison>();
        do attempts.Add(ModelEvaluation.Compare(dir.File("big.onnx"), dir.File("half.onnx"), null, new[] { 256 }, OneThread));
        while (!attempts[^1].Faster && attempts.Count < 3);
        var c = attempts[^1];

        Assert.Equal(2 * c.After.Macs, c.Before.Macs, 0.01 * c.Before.Macs);  // within 1%: 794·1024 + 10·1024 against half that
        Assert.DoesNotContain(attempts, a => a.SlowerSomewhere);
        var row = Assert.Single(c.Latency);
        Assert.True(row.Verdict == LatencyVerdict.Faster, string.Join("; ", attempts.Select(a => $"{a.Verdicts}: {a.Latency[0].Candidate} against {a.Latency[0].Baseline}")));
        Assert.True(c.Faster);
        // Half the MACs of a GEMM-bound model: between 1.3x and 3x quicker (measured about 2x on one thread).
        Assert.InRange(row.Speedup, 1.3, 3);
        Assert.Equal($"{row.Speedup:F2}x faster", row.Words);
        Assert.Equal($"{row.Words} at batch 256", c.Verdicts);
    }

    [Fact]
    public void TheVerdictsInWords_AgreeWithTheVerdictAndTheRatio()
    {
        var random = new Random(7);
        var seen = new HashSet<LatencyVerdict>();
        for (var i = 0; i < 5000; i++)
        {
            var (a, b) = (Quartiles(random), Quartiles(random));
            var row = new LatencyComparisonRow(1, a, b, LatencyComparison.Decide(a, b));
            seen.Add(row.Verdict);
            switch (row.Verdict)
            {
                case LatencyVerdict.Faster:
                    Assert.True(row.Speedup > 1, $"{row.Words}");
                    Assert.EndsWith("x faster", row.Words);
                    Assert.DoesNotContain("NOT", row.Words);
                    Assert.False(row.Words.StartsWith("1.00x"), row.Words);
                    break;
                case LatencyVerdict.Slower:
                    Assert.True(row.Speedup < 1, $"{row.Words}");
                    Assert.StartsWith("NOT faster: ", row.Words);
                    Assert.EndsWith("x slower", row.Words);
                    Assert.DoesNotContain("NOT faster: 1.00x", row.Words);
                    break;
                default:
                    Assert.StartsWith("NOT faster: within noise (", row.Words);
                    Assert.Contains($"{row.Speedup:F2}x", row.Words);
                    break;
            }
        }
        Assert.Equal(3, seen.Count);
    }

    [Theory]
    [InlineData(1.0, 1.0001, "1.0001")]  // two decimals would read 1.00x: as many as it takes
    [InlineData(1.0, 1.004, "1.004")]
    [InlineData(1.0, 1.42, "1.42")]
    public void ARatioNeverReadsOnePointZeroZeroWhenItIsAVerdict(double candidate, double baseline, string expected)
    {
        var row = new LatencyComparisonRow(1, new LatencyQuartiles(baseline, baseline, baseline, 5), new LatencyQuartiles(candidate, candidate, candidate, 5),
            LatencyVerdict.Faster);
        Assert.Equal($"{expected}x faster", row.Words);
    }

    private static LatencyQuartiles Quartiles(Random r)
    {
        var p50 = 1 + r.NextDouble();
        var spread = r.NextDouble() * 0.2;
        return new LatencyQuartiles(p50 - spread * r.NextDouble(), p50, p50 + spread * r.NextDouble(), 50);
    }
}
