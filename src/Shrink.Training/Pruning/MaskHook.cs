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
        Fingerprint = new Dictionary<string, string> { ["mask.hash"] = Hash(masks) };
    }

    private static string Hash(PruningMasks masks)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var (name, keep) in masks.Keep.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name + "\n"));
            sha.AppendData(keep.Select(k => k ? (byte)1 : (byte)0).ToArray());
        }
        return Convert.ToHexString(sha.GetHashAndReset())[..16];
    }

    /// <summary>A hash of the masks (the weights they hold at zero).</summary>
    public IEnumerable<KeyValuePair<string, string>> Fingerprint { get; }

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
