using Shrink.Evaluation;
using Xunit;

namespace Shrink.Tests.Evaluation;

/// <summary>The seeded percentile bootstrap: intervals bracket the point estimate, repeat exactly, narrow with more samples, and vanish without variation.</summary>
public class BootstrapTests
{
    private static bool[] Hits(int n, double rate, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => random.NextDouble() < rate).ToArray();
    }

    [Fact]
    public void The_interval_of_a_mean_brackets_it_and_repeats_with_its_seed()
    {
        var hits = Hits(1000, 0.8, 1);
        var a = Bootstrap.Mean(hits, 1000, seed: 7);
        Assert.Equal(hits.Count(h => h) / 1000.0, a.Estimate, 12);
        Assert.True(a.Low < a.Estimate && a.Estimate < a.High, a.Format("F4"));
        // The normal approximation of the binomial: half-width 1.96·√(p(1−p)/n) = 0.0248 at p = 0.8; the bootstrap within 25 % of it.
        var half = 1.96 * Math.Sqrt(a.Estimate * (1 - a.Estimate) / 1000);
        Assert.InRange((a.High - a.Low) / 2, 0.75 * half, 1.25 * half);
        Assert.Equal(a, Bootstrap.Mean(hits, 1000, seed: 7));
        Assert.NotEqual(a, Bootstrap.Mean(hits, 1000, seed: 8));
    }

    [Fact]
    public void A_paired_difference_counts_only_the_samples_that_changed()
    {
        var baseline = Hits(2000, 0.9, 2);
        var same = Bootstrap.Difference(baseline, baseline);
        Assert.Equal((0.0, 0.0, 0.0), (same.Estimate, same.Low, same.High));   // the same answers: no drop and no doubt about it
        var candidate = baseline.Select((h, i) => h && i % 50 != 0).ToArray();   // loses every 50th sample it had right
        var d = Bootstrap.Difference(baseline, candidate, 1000, seed: 3);
        Assert.Equal((baseline.Count(h => h) - candidate.Count(h => h)) / 2000.0, d.Estimate, 12);
        Assert.True(d.Low > 0 && d.Low <= d.Estimate && d.Estimate <= d.High, d.Format("F4"));
        var points = d.Scaled(100);
        Assert.Equal(100 * d.High, points.High, 12);
    }

    [Fact]
    public void Misuse_is_an_argument_error()
    {
        Assert.Throws<ArgumentException>(() => Bootstrap.Difference([true], [true, false]));
        Assert.Throws<ArgumentException>(() => Bootstrap.Mean([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Bootstrap.Mean([true], resamples: 5));
    }
}

/// <summary>Per-sample predictions count the samples whose outputs are not finite numbers, whose argmax means nothing.</summary>
public class SamplePredictionsTests
{
    [Fact]
    public void Samples_with_NaN_or_infinite_outputs_are_counted()
    {
        using var dir = new TempDirectory();
        // y = Log(x): finite on positive inputs, NaN on a negative one, −∞ on zero.
        var graph = new Shrink.Onnx.Proto.GraphProto { Name = "log" };
        graph.Input.Add(Batched("x"));
        graph.Node.Add(ProtoModels.Node("Log", ["x"], ["y"], "log"));
        graph.Output.Add(Batched("y"));
        var m = new Shrink.Onnx.Proto.ModelProto { IrVersion = 9, ProducerName = "shrink-tests", Graph = graph };
        m.OpsetImport.Add(new Shrink.Onnx.Proto.OperatorSetIdProto { Domain = "", Version = 17 });
        File.WriteAllBytes(dir.File("log.onnx"), Google.Protobuf.MessageExtensions.ToByteArray(m));
        float[] x = [1, 2, 3, /**/ -1, 1, 1, /**/ 0, 1, 2, /**/ 3, 2, 1];
        var data = new Shrink.Data.InMemorySource("rows", [new Shrink.Runtime.HostTensor("x", x, [4, 3])], [2, 1, 2, 0], 3);

        var p = SamplePredictions.Of(dir.File("log.onnx"), data);
        Assert.Equal(2, p.NonFinite);
        Assert.Equal(new[] { 2, 0, 2, 0 }, p.Predicted);   // the argmax of a row with NaN is what comparisons leave: not a prediction
        Assert.Equal(new[] { true, false, true, true }, p.Correct());
    }

    private static Shrink.Onnx.Proto.ValueInfoProto Batched(string name)
    {
        var shape = new Shrink.Onnx.Proto.TensorShapeProto();
        shape.Dim.Add(new Shrink.Onnx.Proto.TensorShapeProto.Types.Dimension { DimParam = "N" });
        shape.Dim.Add(new Shrink.Onnx.Proto.TensorShapeProto.Types.Dimension { DimValue = 3 });
        return new Shrink.Onnx.Proto.ValueInfoProto { Name = name, Type = new Shrink.Onnx.Proto.TypeProto { TensorType = new() { ElemType = 1, Shape = shape } } };
    }
}
