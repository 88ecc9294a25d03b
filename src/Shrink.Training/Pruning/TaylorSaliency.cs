using Shrink.Data;
using Shrink.Ir;
using Shrink.Passes.Pruning;
using Shrink.Training.Execution;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Pruning;

/// <summary>
/// First-order Taylor saliency of every prunable weight, |w·∂L/∂w| averaged over mini-batches of
/// training data (Molchanov et al. 2017): the loss change a weight's removal causes, to first order.
/// </summary>
public static class TaylorSaliency
{
    public static IReadOnlyDictionary<string, float[]> Measure(Model model, Dataset data, int batches = 16, int batchSize = 128, int seed = 0)
    {
        if (batches < 1) throw new OptionsException($"taylor needs at least 1 batch, got {batches}");
        var weights = PrunableWeights.Find(model);
        using var executor = GraphExecutor.Compile(model);
        Trainer.CheckFits(executor, data);
        executor.Training = false; // saliency of the deployed function: BatchNorm statistics fixed, no dropout
        var tensors = weights.Select(w => executor.FindParameter(w.Weight.Name)!.Tensor).ToList();
        var sums = tensors.Select(t => torch.zeros_like(t).DetachFromDisposeScope()).ToList();
        try
        {
            var loader = new BatchLoader(data, batchSize, seed);
            var order = loader.Order(0);
            var count = Math.Min(batches, loader.Batches);
            for (var b = 0; b < count; b++)
            {
                using var scope = torch.NewDisposeScope();
                var (_, x, y) = loader.Get(order, b);
                foreach (var t in tensors) t.grad?.zero_();
                F.cross_entropy(executor.Forward(x)[0], y).backward();
                using var noGrad = torch.no_grad();
                for (var i = 0; i < tensors.Count; i++)
                    if (tensors[i].grad is { } g) sums[i].add_(g.mul(tensors[i]).abs_(), alpha: One);
            }
            return weights.Select((w, i) => (w.Weight.Name, Scores: sums[i].data<float>().ToArray())).ToDictionary(p => p.Name, p => p.Scores);
        }
        finally
        {
            foreach (var s in sums) s.Dispose();
        }
    }

    private static readonly Scalar One = 1L.ToScalar(); // explicit alpha (see Optimizer.S)
}
