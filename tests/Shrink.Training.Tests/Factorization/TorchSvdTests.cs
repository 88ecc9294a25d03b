using Shrink.Passes;
using Shrink.Passes.Factorization;
using Shrink.Runtime;
using Shrink.Training.Factorization;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Training.Tests.Factorization;

/// <summary>libtorch's SVD (the <c>factorize</c> technique's) gives what Math.NET's managed one gives, up to signs and rounding.</summary>
public class TorchSvdTests
{
    private static float[] RandomValues(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
    }

    /// <summary>L·R, row-major m×n, from L (m×r) and R (r×n), in float64.</summary>
    private static double[] Product(float[] left, float[] right, int m, int r, int n)
    {
        var p = new double[m * n];
        for (var i = 0; i < m; i++)
            for (var k = 0; k < r; k++)
                for (var j = 0; j < n; j++)
                    p[i * n + j] += (double)left[i * r + k] * right[k * n + j];
        return p;
    }

    [Theory]
    [InlineData(40, 30, false)]
    [InlineData(30, 40, false)]
    [InlineData(40, 30, true)]
    public void SingularValuesAndTruncatedProducts_AreMathNets(int m, int n, bool columnMajor)
    {
        var values = RandomValues(m * n, seed: m + n);
        using var torch = TorchSvd.Instance.Decompose(values, m, n, columnMajor);
        using var managed = ManagedSvd.Instance.Decompose(values, m, n, columnMajor);
        Assert.Equal(Math.Min(m, n), torch.SingularValues.Length);
        for (var i = 0; i < torch.SingularValues.Length; i++)
            Assert.Equal(managed.SingularValues[i], torch.SingularValues[i], 1e-10);

        foreach (var rank in new[] { 3, Math.Min(m, n) })
        {
            var (tl, tr, ml, mr) = (new float[m * rank], new float[rank * n], new float[m * rank], new float[rank * n]);
            torch.Factors(rank, tl, tr);
            managed.Factors(rank, ml, mr);
            var (pt, pm) = (Product(tl, tr, m, rank, n), Product(ml, mr, m, rank, n));
            Assert.All(pt.Zip(pm), p => Assert.Equal(p.Second, p.First, 1e-5));     // float32 factors: the same product
            if (rank == Math.Min(m, n))                                              // full rank gives M back
                for (var i = 0; i < m; i++)
                    for (var j = 0; j < n; j++)
                        Assert.Equal(columnMajor ? values[j * m + i] : values[i * n + j], pt[i * n + j], 1e-5);
        }
    }

    [Fact]
    public void TheFactorizedModel_ComputesWhatTheManagedOnesDoes()
    {
        // lenet5: conv2 [50, 20, 5, 5] read as [50, 500], gemm1 [500, 800] stored transposed (transB).
        var model = ModelZoo.Create("lenet5", seed: 3);
        var options = new LowRankOptions { Energy = null, Ratio = 0.3, Layers = new HashSet<string> { "conv2", "gemm1" } };
        var withTorch = new LowRankPass(options, TorchSvd.Instance).Run(model, new PassContext());
        var managed = new LowRankPass(options).Run(model, new PassContext());
        Assert.Equal(managed.Artifact<FactorizationRanks>()!.Layers, withTorch.Artifact<FactorizationRanks>()!.Layers);

        using var a = OnnxRunner.FromModel(managed.Model);
        using var b = OnnxRunner.FromModel(withTorch.Model);
        var inputs = a.RandomInputs(8, seed: 5);
        var (x, y) = ((float[])a.Run(inputs)[0].Data, (float[])b.Run(inputs)[0].Data);
        var worst = x.Zip(y).Max(p => Math.Abs(p.First - p.Second)) / x.Max(Math.Abs);
        Assert.True(worst < 1e-5, $"largest difference {worst:E2} of the output scale");
    }
}
