using Shrink.Builder;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Factorization;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Factorization;

/// <summary>Low-rank factorization: exact on low-rank weights, energy and ratio ranks.</summary>
public class LowRankPassTests
{
    /// <summary>Sets a weight to a product of random [m, r] and [r, n] factors (rank r).</summary>
    private static void MakeLowRank(Value weight, int m, int n, int r, Func<int, int, long> index, int seed)
    {
        var random = new Random(seed);
        var a = Enumerable.Range(0, m * r).Select(_ => random.NextDouble() - 0.5).ToArray();
        var b = Enumerable.Range(0, r * n).Select(_ => random.NextDouble() - 0.5).ToArray();
        var values = new float[m * n];
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
                values[index(i, j)] = (float)Enumerable.Range(0, r).Sum(k => a[i * r + k] * b[k * n + j]);
        weight.Const = Tensor.FromFloats(weight.Name, weight.Const!.Dims, values);
    }

    private static void AssertSameOutputs(Model a, Model b, double tolerance)
    {
        using var ra = OnnxRunner.FromModel(a);
        using var rb = OnnxRunner.FromModel(b);
        var inputs = ra.RandomInputs(8, seed: 5);
        var x = (float[])ra.Run(inputs)[0].Data;
        var y = (float[])rb.Run(inputs)[0].Data;
        var scale = x.Max(Math.Abs);
        var worst = x.Zip(y).Max(p => Math.Abs(p.First - p.Second)) / scale;
        Assert.True(worst < tolerance, $"largest difference {worst:E2} of the output scale");
    }

    [Fact]
    public void LowRankWeightsAreFactorizedExactly()
    {
        // lenet5's gemm1 [500, 800] (transB) at rank 6 and conv2 [50, 20, 5, 5] at rank 4.
        var model = ModelZoo.Create("lenet5", seed: 1);
        var gemm = model.Graph.FindNode("gemm1")!;
        MakeLowRank(gemm.Inputs[1]!, 800, 500, 6, (i, j) => (long)j * 800 + i, 1); // stored [N, K]: element (k, n) at n·K + k
        var conv = model.Graph.FindNode("conv2")!;
        MakeLowRank(conv.Inputs[1]!, 50, 500, 4, (i, j) => (long)i * 500 + j, 2);
        var pass = new LowRankPass(new LowRankOptions { Energy = 0.999999, Layers = new HashSet<string> { "gemm1", "conv2" } });
        var run = new PassPipeline(pass) { VerifyEach = true }.Run(model, new PassContext());
        var factorized = run.Model;
        Assert.Equal(new LayerRank(6, 500), run.Artifact<FactorizationRanks>()!.Layers["gemm1"]);
        Assert.Equal(new LayerRank(4, 50), run.Artifact<FactorizationRanks>()!.Layers["conv2"]);
        Assert.Equal(3, factorized.Graph.Nodes.Count(n => n.OpType == "Conv")); // conv1, and conv2 as two
        Assert.Equal(3, factorized.Graph.Nodes.Count(n => n.OpType == "Gemm"));
        var pointwise = factorized.Graph.Nodes.Where(n => n.OpType == "Conv").Single(n => n.Inputs[1]!.Const!.Dims[2] == 1);
        Assert.Equal(new long[] { 50, 4, 1, 1 }, pointwise.Inputs[1]!.Const!.Dims);
        AssertSameOutputs(model, factorized, 1e-4);
        Assert.Equal(model.Graph.Outputs[0].Name, factorized.Graph.Outputs[0].Name);
    }

    [Fact]
    public void RatioAndEnergyChooseRanksAndUselessCutsAreSkipped()
    {
        var model = ModelZoo.Create("lenet300", seed: 1);
        var byRatio = new LowRankPass(new LowRankOptions { Energy = null, Ratio = 0.25 });
        var context = new PassContext();
        var result = byRatio.Run(model, context);
        // gemm1 [784 → 300]: ⌊0.25·784·300/1084⌋ = 54.
        Assert.Equal(54, result.Artifact<FactorizationRanks>()!.Layers["gemm1"].Rank);
        Assert.InRange((double)result.Stats["parameters-after"] / result.Stats["parameters-before"], 0.2, 0.26);
        // A random weight spreads its energy: 0.5 of it needs far fewer than the full rank, 1.0 the full rank, which saves nothing.
        var low = new LowRankPass(new LowRankOptions { Energy = 0.5 });
        Assert.InRange(low.Run(model, new PassContext()).Artifact<FactorizationRanks>()!.Layers["gemm1"].Rank, 20, 200);
        var all = new LowRankPass(new LowRankOptions { Energy = 1.0 });
        var notes = new PassContext();
        Assert.False(all.Run(model, notes).Modified);
        Assert.Contains(notes.Notes, n => n.Contains("would not make it smaller"));
    }
}
