using Shrink.Passes.Pruning;
using Shrink.Training.Execution;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Pruning;

/// <summary>
/// Keeps pruned weights at exactly zero while a pruned model is fine-tuned: the masks are applied
/// before the first step and again after every optimizer step, so momentum and weight decay cannot
/// revive a pruned weight, and the exported ONNX holds the zeros.
/// </summary>
public sealed class MaskHook : ITrainingHook, IDisposable
{
    private readonly List<(Tensor Weight, Tensor Mask)> _pairs = new();

    public MaskHook(GraphExecutor executor, PruningMasks masks)
    {
        foreach (var (name, keep) in masks.Keep)
        {
            var p = executor.FindParameter(name) ?? throw new ArgumentException($"the executor has no parameter '{name}'");
            if (keep.Length != p.Tensor.numel()) throw new ArgumentException($"the mask of '{name}' has {keep.Length} entries for {p.Tensor.numel()} weights");
            var mask = torch.tensor(keep, p.Tensor.shape).to(ScalarType.Float32).DetachFromDisposeScope();
            _pairs.Add((p.Tensor, mask));
        }
    }

    public void OnTrainStart(Trainer trainer) => Apply();

    public void AfterStep(TrainStep step) => Apply();

    /// <summary>Zeroes the pruned weights.</summary>
    public void Apply()
    {
        using var noGrad = torch.no_grad();
        foreach (var (w, mask) in _pairs) w.mul_(mask);
    }

    public void Dispose()
    {
        foreach (var (_, mask) in _pairs) mask.Dispose();
        _pairs.Clear();
    }
}
