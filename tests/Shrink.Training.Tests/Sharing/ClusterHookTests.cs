using Shrink.Passes;
using Shrink.Passes.Sharing;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Training.Tests.Sharing;

/// <summary>Centroid fine-tuning: the cluster hook ties each cluster's weights and moves them by the sum of their updates.</summary>
[Collection("torch")]
public class ClusterHookTests
{
    [Fact]
    public void CentroidStepIsTheSumOfTheClustersUpdates()
    {
        Shrink.Training.TorchRuntime.EnsureInitialized();
        var model = ModelZoo.Create("lenet300", seed: 3);
        model = new ClusterPass(new ClusterOptions { Bits = 2, OnlyListed = true, LayerBits = new Dictionary<string, int> { ["gemm3"] = 2 } }).Run(model, new PassContext()).Model;
        var w = model.Graph.FindInitializer("gemm3.weight")!.Const!.AsFloats().ToArray();
        var centroids = w.Distinct().OrderBy(v => v).ToArray();
        Assert.Equal(4, centroids.Length);
        using var executor = Shrink.Training.Execution.GraphExecutor.Compile(model);
        using var hook = new Shrink.Training.Sharing.ClusterHook(executor, new[] { "gemm3.weight" });
        var p = executor.FindParameter("gemm3.weight")!.Tensor;
        // A fake optimizer step: weight i moves by δ_i.
        var delta = Enumerable.Range(0, w.Length).Select(i => (float)Math.Sin(i) * 1e-3f).ToArray();
        using (TorchSharp.torch.no_grad()) p.copy_(TorchSharp.torch.tensor(w.Zip(delta).Select(t => t.First + t.Second).ToArray(), p.shape));
        hook.AfterStep(null!);
        var after = p.data<float>().ToArray();
        for (var k = 0; k < 4; k++)
        {
            var members = Enumerable.Range(0, w.Length).Where(i => w[i] == centroids[k]).ToList();
            var expected = centroids[k] + members.Sum(i => (double)delta[i]);
            Assert.NotEmpty(members);
            Assert.All(members, i => Assert.Equal(expected, after[i], 5)); // tied, moved by the sum
        }
    }
}
