using Shrink.Ir;
using Shrink.Training.Execution;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Pruning;

/// <summary>
/// Network slimming's sparsity training (Liu et al. 2017): adds λ·Σ|γ| over every BatchNorm scale to
/// the loss, so channels the network can do without drift towards γ = 0 and a later cut by |γ|
/// (<c>slim</c>) removes them with little loss.
/// </summary>
public sealed class SlimHook : ITrainingHook, IDisposable
{
    private readonly List<Tensor> _gammas;
    private readonly Scalar _penalty;
    private readonly Scalar _one = 1L.ToScalar(); // explicit alpha: implicit Scalars can be finalized mid-call

    public SlimHook(GraphExecutor executor, Model model, double penalty)
    {
        if (!(penalty > 0) || double.IsInfinity(penalty)) throw new OptionsException($"--slim-penalty must be a positive number, got {penalty}");
        _gammas = model.Graph.Nodes.Where(n => n.OpType == "BatchNormalization" && n.Inputs.Count > 1 && n.Inputs[1] is { } g && g.IsInitializer)
            .Select(n => executor.FindParameter(n.Inputs[1]!.Name)).OfType<ExecutorParameter>().Where(p => p.Trainable).Select(p => p.Tensor).ToList();
        if (_gammas.Count == 0) throw new OptionsException("--method slim trains an L1 penalty on BatchNormalization scales, and the model has none; use l1-filter");
        _penalty = penalty.ToScalar();
        Fingerprint = new Dictionary<string, string> { ["slim.penalty"] = penalty.ToString("R") };
    }

    /// <summary>The penalty λ.</summary>
    public IEnumerable<KeyValuePair<string, string>> Fingerprint { get; }

    public Tensor? ExtraLoss(TrainStep step)
    {
        Tensor? sum = null;
        foreach (var g in _gammas) sum = sum is null ? g.abs().sum() : sum.add(g.abs().sum(), _one);
        return sum!.mul(_penalty);
    }

    public void Dispose()
    {
        _penalty.Dispose();
        _one.Dispose();
    }
}
