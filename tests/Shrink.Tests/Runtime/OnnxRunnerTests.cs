using Shrink.Data;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Runtime;

public class OnnxRunnerTests
{
    [Fact]
    public void Random_token_ids_spread_over_the_vocabulary_the_input_indexes_and_masks_stay_0_or_1()
    {
        var path = TestModels.TorchPath("encoder_small");   // vocabulary 100; input_ids feeds the word embedding's Gather (and a Shape)
        using var fromFile = OnnxRunner.Load(path, new RunnerOptions { Threads = 1, DimValues = new Dictionary<string, long> { ["sequence"] = 16 } });
        using var fromModel = OnnxRunner.FromModel(OnnxReader.Read(path), fromFile.Options);
        foreach (var runner in new[] { fromFile, fromModel })
        {
            var inputs = runner.RandomInputs(8, seed: 3);
            var ids = (long[])inputs.Single(t => t.Name == "input_ids").Data;
            var mask = (long[])inputs.Single(t => t.Name == "attention_mask").Data;
            Assert.All(ids, id => Assert.InRange(id, 0, 99));
            Assert.True(ids.Distinct().Count() > 50, $"{ids.Distinct().Count()} distinct ids of 128");
            Assert.All(mask, m => Assert.InRange(m, 0, 1));
            Assert.Equal(ids, (long[])fromFile.RandomInputs(8, seed: 3).Single(t => t.Name == "input_ids").Data);
            runner.Run(inputs);   // in range: the Gather does not fail
        }
        var source = Shrink.Evaluation.Fidelity.RandomInputs(fromFile, new Shrink.Evaluation.FidelityOptions { RandomSamples = 4 });
        Assert.StartsWith("4 seeded random inputs (input_ids below 100, attention_mask 0 or 1, seed 0", source.Name);
    }

    private const float Tolerance = 1e-4f;  // float32, absolute, against PyTorch's outputs

    public static TheoryData<string> Zoo => TestModels.Zoo;
    public static TheoryData<string> Torch => TestModels.Torch;

    private static readonly RunnerOptions OneThread = new() { Threads = 1 };

    [Theory]
    [MemberData(nameof(Zoo))]
    public void ZooModel_RunsOnARandomBatch(string name)
    {
        using var runner = OnnxRunner.FromModel(ModelZoo.Create(name), OneThread);

        var output = Assert.Single(runner.Run(runner.RandomInputs(batch: 3)));

        Assert.Equal("output", output.Name);
        Assert.Equal(new long[] { 3, 10 }, output.Shape);
        Assert.All((float[])output.Data, v => Assert.True(float.IsFinite(v)));
    }

    [Theory]
    [MemberData(nameof(Torch))]
    public void TorchModel_MatchesPyTorch(string name)
    {
        using var runner = OnnxRunner.Load(TestModels.TorchPath(name), OneThread);

        AssertMatchesPyTorch(runner, name);
    }

    [Theory]
    [MemberData(nameof(Torch))]
    public void TorchModel_MatchesPyTorchAfterARoundTrip(string name)
    {
        var model = OnnxReader.Read(OnnxWriter.ToBytes(OnnxReader.Read(TestModels.TorchPath(name))));
        using var runner = OnnxRunner.FromModel(model, OneThread);

        AssertMatchesPyTorch(runner, name);
    }

    private static void AssertMatchesPyTorch(OnnxRunner runner, string name)
    {
        var (input, inputShape) = TestModels.TorchArray(name, "input");
        var (expected, expectedShape) = TestModels.TorchArray(name, "output");

        var (actual, shape) = runner.RunFloat(input, inputShape);

        Assert.Equal(expectedShape, shape);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= Tolerance, $"{name}: largest difference from PyTorch is {worst:g3}, tolerance {Tolerance:g1} absolute");
    }

    [Fact]
    public void Benchmark_ReturnsOrderedPositivePercentiles()
    {
        using var runner = OnnxRunner.FromModel(ModelZoo.Create("lenet300"), OneThread);

        var r = runner.Benchmark(batch: 2, warmup: 1, runs: 3);

        Assert.Equal(2, r.Batch);
        Assert.Equal(3, r.Runs);
        Assert.True(r.P50Ms > 0, $"p50 {r.P50Ms}");
        Assert.True(r.P50Ms <= r.P90Ms && r.P90Ms <= r.P99Ms, $"p50 {r.P50Ms}, p90 {r.P90Ms}, p99 {r.P99Ms}");
        Assert.True(r.MeanMs > 0 && r.Throughput > 0);
    }

    [Fact]
    public void Benchmark_RejectsBadCounts()
    {
        using var runner = OnnxRunner.FromModel(ModelZoo.Create("lenet300"), OneThread);

        Assert.Contains("batch size 0", Assert.Throws<OptionsException>(() => runner.Benchmark(0)).Message);
        Assert.Contains("runs 0", Assert.Throws<OptionsException>(() => runner.Benchmark(1, runs: 0)).Message);
    }

    [Fact]
    public void Percentile_Interpolates()
    {
        var sorted = new[] { 1.0, 2.0, 3.0, 10.0 };

        Assert.Equal(2.5, OnnxRunner.Percentile(sorted, 50), 9);
        Assert.Equal(1.0, OnnxRunner.Percentile(sorted, 0), 9);
        Assert.Equal(10.0, OnnxRunner.Percentile(sorted, 100), 9);
    }

    [Fact]
    public void WrongInputShape_NamesTheInput()
    {
        using var runner = OnnxRunner.FromModel(ModelZoo.Create("lenet5"), OneThread);

        var e = Assert.Throws<DataException>(() => runner.RunFloat(new float[2 * 27 * 27], new long[] { 2, 1, 27, 27 }));

        Assert.Contains("'input'", e.Message);
        Assert.Contains("[2,1,27,27]", e.Message);
    }

    [Fact]
    public void WrongInputName_ListsTheInputs()
    {
        using var runner = OnnxRunner.FromModel(ModelZoo.Create("lenet5"), OneThread);
        var data = new HostTensor("input", new float[784], new long[] { 1, 1, 28, 28 });

        var e = Assert.Throws<DataException>(() => runner.Run(new[] { data, data with { Name = "images" } }));

        Assert.Contains("'images'", e.Message);
        Assert.Contains("input", e.Message);
    }

    [Fact]
    public void DataLengthDisagreeingWithShape_Fails()
    {
        using var runner = OnnxRunner.FromModel(ModelZoo.Create("lenet5"), OneThread);

        var e = Assert.Throws<DataException>(() => runner.RunFloat(new float[700], new long[] { 1, 1, 28, 28 }));

        Assert.Contains("'input'", e.Message);
    }

    [Fact]
    public void Evaluate_CountsEverySample()
    {
        var test = FashionMnist.LoadEmbedded().Test.Take(256);
        using var runner = OnnxRunner.FromModel(ModelZoo.Create("lenet5"), OneThread);

        var r = runner.Evaluate(test, batchSize: 100);

        Assert.Equal(256, r.Samples);
        Assert.InRange(r.Accuracy, 0.0, 1.0);
        Assert.InRange(r.Correct, 0, 256);
    }

    [Fact]
    public void Evaluate_FeedsFlatInputsToAFlatModel()
    {
        var b = new Shrink.Builder.NetworkBuilder("flat");
        var x = b.Input("input", 784);
        b.Output(b.Linear(x, 10), "output");
        using var runner = OnnxRunner.FromModel(b.Build(), OneThread);

        Assert.Equal(64, runner.Evaluate(FashionMnist.LoadEmbedded().Test.Take(64)).Samples);
    }

    [Fact]
    public void MissingModelFile_IsAModelFormatError()
    {
        Assert.Throws<ModelFormatException>(() => OnnxRunner.Load(Path.Combine(AppContext.BaseDirectory, "no-such-model.onnx")));
    }

    [Theory]
    [InlineData(1.0, 1.1, 1.2, 0.7, 0.8, 0.9, LatencyVerdict.Faster)]
    [InlineData(1.0, 1.1, 1.2, 1.3, 1.4, 1.5, LatencyVerdict.Slower)]
    [InlineData(1.0, 1.1, 1.2, 0.9, 1.05, 1.1, LatencyVerdict.WithinNoise)]
    [InlineData(1.0, 1.1, 1.2, 0.8, 0.9, 1.0, LatencyVerdict.WithinNoise)]  // touching ranges are not apart
    public void TheVerdictRule_IsNonOverlappingInterquartileRanges(double b1, double b2, double b3, double c1, double c2, double c3, LatencyVerdict expected)
    {
        var verdict = LatencyComparison.Decide(new LatencyQuartiles(b1, b2, b3, 50), new LatencyQuartiles(c1, c2, c3, 50));
        Assert.Equal(expected, verdict);
    }
}
