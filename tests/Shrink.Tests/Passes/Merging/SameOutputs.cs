using Shrink.Ir;
using Shrink.Runtime;
using Xunit;

namespace Shrink.Tests.Passes.Merging;

/// <summary>Every output of two models on the same seeded random inputs in ONNX Runtime, compared relative to the expected output's scale.</summary>
internal static class SameOutputs
{
    /// <summary>The merging passes' promise: within 1e-5 of each output's largest magnitude.</summary>
    public const double Tolerance = 1e-5;

    /// <summary>The largest difference of any output, as a fraction of that output's largest magnitude.</summary>
    public static double Worst(Model expected, Model actual, int batch = 2)
    {
        var options = new RunnerOptions { DimValues = new Dictionary<string, long> { ["seq"] = 5 } };  // transformer_tiny's sequence axis
        using var a = OnnxRunner.FromModel(expected, options);
        using var b = OnnxRunner.FromModel(actual, options);
        var inputs = a.RandomInputs(batch, seed: 7);
        var (x, y) = (a.Run(inputs), b.Run(inputs));
        Assert.Equal(x.Count, y.Count);
        double worst = 0;
        for (var i = 0; i < x.Count; i++)
        {
            var (e, g) = (Floats(x[i].Data), Floats(y[i].Data));
            Assert.Equal(e.Length, g.Length);
            Assert.Equal(x[i].Shape, y[i].Shape);
            var scale = Math.Max(1e-12, e.Max(Math.Abs));
            worst = Math.Max(worst, e.Zip(g).Max(p => Math.Abs(p.First - p.Second)) / scale);
        }
        return worst;
    }

    public static void AssertClose(Model expected, Model actual, double tolerance = Tolerance, int batch = 2)
    {
        var worst = Worst(expected, actual, batch);
        Assert.True(worst <= tolerance, $"largest difference {worst:E2} of the output scale (tolerance {tolerance:E0})");
    }

    public static float[] Floats(Array data) => data switch
    {
        float[] f => f,
        Microsoft.ML.OnnxRuntime.Float16[] h => h.Select(v => (float)v).ToArray(),
        long[] l => l.Select(v => (float)v).ToArray(),
        _ => throw new InvalidOperationException($"output of type {data.GetType().Name}"),
    };

    public static int Count(Model m, string op) => m.Graph.Nodes.Count(n => n.OpType == op);
}
