using Shrink.Ir;

namespace Shrink.Runtime.Split;

/// <summary>What <see cref="SplitCheck.Compare"/> found: how many output values were compared, how many differ, and the largest difference.</summary>
public sealed record SplitComparison(long Values, long Differing, double MaxAbsDifference, int Batch, int Seed)
{
    public bool Identical => Differing == 0;
}

/// <summary>
/// The check of a split model against the whole: both run in ONNX Runtime without layout optimizations (where the
/// parts must give the whole's bits; see <see cref="RunnerOptions.LayoutOptimizations"/>) on the same seeded random
/// inputs, every output compared value by value.
/// </summary>
public static class SplitCheck
{
    public static SplitComparison Compare(Model whole, string manifestPath, int batch = 1, int seed = 0)
    {
        var exact = new RunnerOptions { LayoutOptimizations = false };
        using var reference = OnnxRunner.FromModel(whole, exact, "the whole model");
        var inputs = reference.RandomInputs(batch, seed);
        var expected = reference.Run(inputs);
        using var runner = SequentialRunner.Open(manifestPath, new SequentialRunnerOptions { Runner = exact });
        var actual = runner.Run(inputs);
        long values = 0, differing = 0;
        double worst = 0;
        foreach (var (e, a) in expected.Zip(actual))
        {
            var (x, y) = (Doubles(e.Data), Doubles(a.Data));
            if (x.Length != y.Length || !e.Shape.SequenceEqual(a.Shape)) { differing += Math.Max(x.Length, y.Length); worst = double.PositiveInfinity; continue; }
            values += x.Length;
            for (var i = 0; i < x.Length; i++)
            {
                if (x[i].Equals(y[i])) continue;
                differing++;
                worst = Math.Max(worst, Math.Abs(x[i] - y[i]));
            }
        }
        return new SplitComparison(values, differing, worst, batch, seed);
    }

    private static double[] Doubles(Array a) => a switch
    {
        float[] f => f.Select(v => (double)v).ToArray(),
        double[] d => d,
        long[] l => l.Select(v => (double)v).ToArray(),
        int[] i => i.Select(v => (double)v).ToArray(),
        bool[] b => b.Select(v => v ? 1.0 : 0.0).ToArray(),
        byte[] u => u.Select(v => (double)v).ToArray(),
        sbyte[] s => s.Select(v => (double)v).ToArray(),
        _ => a.Cast<object>().Select(Convert.ToDouble).ToArray(),
    };
}
