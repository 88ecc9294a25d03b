using Shrink.Training.Execution;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Sharing;

/// <summary>
/// Centroid fine-tuning for shared weights (Han et al. 2016, §3.1): the weights of a cluster stay tied
/// to one value. After every optimizer step the changes the optimizer made to the weights of a cluster
/// are summed into its centroid — with plain SGD that is c ← c − lr·Σ ∂L/∂w over the cluster, the
/// paper's update — and every weight is set back to its centroid; pruned weights (zero) stay zero. The
/// clusters are read from the weights themselves: the distinct non-zero values of a clustered tensor.
/// </summary>
public sealed class ClusterHook : ITrainingHook, IDisposable
{
    private sealed record Layer(string Name, Tensor Weight, Tensor Index, Tensor NonZero, Tensor Centroids, Tensor Previous);

    private readonly List<Layer> _layers = new();
    private readonly Scalar _one = 1L.ToScalar();

    /// <param name="executor">The executor being trained; the weights are its parameters.</param>
    /// <param name="weights">Names of the clustered weight initializers.</param>
    public ClusterHook(GraphExecutor executor, IEnumerable<string> weights)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var name in weights)
        {
            var p = executor.FindParameter(name) ?? throw new ArgumentException($"the executor has no parameter '{name}'");
            var values = p.Tensor.data<float>().ToArray();
            var centroids = values.Where(v => v != 0).Distinct().OrderBy(v => v).ToArray();
            var index = values.Select(v => v == 0 ? 0L : Array.BinarySearch(centroids, v)).ToArray();
            var shape = p.Tensor.shape;
            _layers.Add(new Layer(name, p.Tensor,
                torch.tensor(index, shape).DetachFromDisposeScope(),
                torch.tensor(values.Select(v => v != 0).ToArray(), shape).DetachFromDisposeScope(),
                torch.tensor(centroids.Length == 0 ? new[] { 0f } : centroids).DetachFromDisposeScope(),
                p.Tensor.detach().clone().DetachFromDisposeScope()));
        }
    }

    /// <summary>The clustered weights.</summary>
    public IEnumerable<KeyValuePair<string, string>> Fingerprint => new Dictionary<string, string>
    {
        ["cluster.weights"] = string.Join(";", _layers.Select(l => l.Name)),
    };

    /// <summary>The centroids and the weights after the last step (their difference to the next step's weights is the update).</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> SaveState() => _layers.SelectMany(l => new[]
    {
        ("cluster.centroids:" + l.Name, l.Centroids.clone().DetachFromDisposeScope()),
        ("cluster.previous:" + l.Name, l.Previous.clone().DetachFromDisposeScope()),
    }).ToList();

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        using var noGrad = torch.no_grad();
        foreach (var l in _layers)
        {
            l.Centroids.copy_(state["cluster.centroids:" + l.Name]);
            l.Previous.copy_(state["cluster.previous:" + l.Name]);
        }
    }

    /// <summary>The current shared values of each layer (ascending at the start; fine-tuning may reorder them).</summary>
    public IReadOnlyList<float[]> Centroids => _layers.Select(l => l.Centroids.data<float>().ToArray()).ToList();

    public void AfterStep(TrainStep step)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var l in _layers)
        {
            var delta = l.Weight.sub(l.Previous).mul(l.NonZero).flatten();
            l.Centroids.index_add_(0, l.Index.flatten(), delta, _one);
            var tied = l.Centroids.index_select(0, l.Index.flatten()).reshape(l.Weight.shape).mul(l.NonZero);
            l.Weight.copy_(tied);
            l.Previous.copy_(tied);
        }
    }

    public void Dispose()
    {
        foreach (var l in _layers)
        {
            l.Index.Dispose();
            l.NonZero.Dispose();
            l.Centroids.Dispose();
            l.Previous.Dispose();
        }
        _one.Dispose();
    }
}
