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
/// training data (Molchanov et al. 2017): the loss change a weight's removal causes, to first order. L is the
/// cross-entropy of the first output against the labels; on data without labels, against the model's own top-1
/// class (the classifier's pseudo-labels), which needs a classifier output [batch, classes].
/// </summary>
public static class TaylorSaliency
{
    public static IReadOnlyDictionary<string, float[]> Measure(Model model, IDataSource data, int batches = 16, int batchSize = 128, int seed = 0)
    {
        if (batches < 1) throw new OptionsException($"taylor needs at least 1 batch, got {batches}");
        var weights = PrunableWeights.Find(model);
        using var executor = GraphExecutor.Compile(model);
        var binding = Trainer.Bind(executor, data);
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
                var (_, x, y) = loader.Get(order, b, binding);
                foreach (var t in tensors) t.grad?.zero_();
                Loss(executor, x, y).backward();
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

    /// <summary>
    /// Per channel of every prunable channel group: (Σ w·∂L/∂w over the channel's filters and biases in
    /// all the group's producers)², summed over mini-batches — Molchanov et al. 2019's first-order
    /// estimate of the loss change when the whole channel goes. By group name, for
    /// <see cref="StructuredPruneOptions.ChannelScores"/>.
    /// </summary>
    public static Dictionary<string, double[]> MeasureChannels(Model model, IDataSource data, int batches = 16, int batchSize = 128, int seed = 0)
    {
        if (batches < 1) throw new OptionsException($"taylor-filter needs at least 1 batch, got {batches}");
        var groups = ChannelFlow.Analyze(model).Groups.Where(g => g.Blocker is null).ToList();
        using var executor = GraphExecutor.Compile(model);
        var binding = Trainer.Bind(executor, data);
        executor.Training = false;
        var sums = groups.ToDictionary(g => g.Key, g => new double[g.Channels]);
        var loader = new BatchLoader(data, batchSize, seed);
        var order = loader.Order(0);
        for (var b = 0; b < Math.Min(batches, loader.Batches); b++)
        {
            using var scope = torch.NewDisposeScope();
            var (_, x, y) = loader.Get(order, b, binding);
            foreach (var p in executor.Parameters) p.Tensor.grad?.zero_();
            Loss(executor, x, y).backward();
            using var noGrad = torch.no_grad();
            foreach (var g in groups)
            {
                var contribution = torch.zeros(g.Channels, dtype: ScalarType.Float64);
                foreach (var producer in g.Producers)
                {
                    contribution.add_(PerChannel(executor, producer.Weight.Name, producer.Axis), alpha: One);
                    if (producer.Bias is { } bias) contribution.add_(PerChannel(executor, bias.Name, 0), alpha: One);
                }
                var squared = contribution.square().data<double>().ToArray();
                var sum = sums[g.Key];
                for (var c = 0; c < sum.Length; c++) sum[c] += squared[c];
            }
        }
        return sums;
    }

    /// <summary>Cross-entropy of the first output against the labels, or against its own top-1 class without labels.</summary>
    private static Tensor Loss(GraphExecutor executor, Tensor[] inputs, Tensor? labels)
    {
        var logits = executor.Forward(inputs)[0];
        if (labels is null && logits.dim() != 2)
            throw new DataException($"taylor scores weights by the gradient of a classifier's loss: without labels it takes the model's own top-1 class, but the model's first output is [{string.Join(", ", logits.shape)}], not [batch, classes]; give labelled data or a data-free method");
        return F.cross_entropy(logits, labels ?? logits.detach().argmax(1));
    }

    /// <summary>Σ w·∂L/∂w over every axis but <paramref name="axis"/> (zeros when the tensor has no gradient).</summary>
    private static Tensor PerChannel(GraphExecutor executor, string name, int axis)
    {
        var t = executor.FindParameter(name)!.Tensor;
        if (t.grad is not { } g) return torch.zeros(t.shape[axis], dtype: ScalarType.Float64);
        var product = g.mul(t).to_type(ScalarType.Float64);
        var others = Enumerable.Range(0, (int)t.dim()).Where(d => d != axis).Select(d => (long)d).ToArray();
        return others.Length == 0 ? product : product.sum(others);
    }

    private static readonly Scalar One = 1L.ToScalar(); // explicit alpha (see Optimizer.S)
}
