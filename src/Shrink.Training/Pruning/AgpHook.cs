using Shrink.Passes.Pruning;
using Shrink.Training.Execution;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Pruning;

/// <summary>
/// Automated gradual pruning (Zhu &amp; Gupta 2017) during training: the sparsity rises from 0 to the
/// target along s(t) = s·(1 − (1 − t/T)³) over the first <see cref="RampFraction"/> of the steps,
/// with magnitude masks recomputed every Δ steps and applied after every step; the rest of the run
/// recovers at the final sparsity. Layer-wise, global, or per layer from a configuration.
/// </summary>
public sealed class AgpHook : ITrainingHook, IDisposable
{
    private readonly List<(string Name, string Layer, Tensor Weight, Tensor Mask)> _layers = new();
    private readonly UnstructuredPruneOptions _options;
    private readonly long _rampSteps;
    private readonly long _every;
    private readonly Scalar _zero = 0.0.ToScalar();

    /// <summary>The fraction of training spent raising the sparsity.</summary>
    public const double RampFraction = 0.75;

    public AgpHook(GraphExecutor executor, UnstructuredPruneOptions options, long totalSteps, int updates = 20)
    {
        _options = options.Validate();
        if (options.Method != "magnitude") throw new OptionsException($"--schedule agp prunes by magnitude as it trains; --method {options.Method} is not available with it");
        if (totalSteps < 1) throw new OptionsException("--schedule agp needs at least one training step");
        var weights = PrunableWeights.Find(executor.Model);
        if (PrunableWeights.Problem(weights, options.LayerSparsity) is { } problem) throw new OptionsException(problem);
        if (options.LayerSparsity is { } config) weights = weights.Where(w => config.ContainsKey(w.LayerName)).ToList();
        foreach (var w in weights)
        {
            var t = executor.FindParameter(w.Weight.Name)!.Tensor;
            _layers.Add((w.Weight.Name, w.LayerName, t, torch.ones_like(t).DetachFromDisposeScope()));
        }
        _rampSteps = Math.Max(1, (long)Math.Round(totalSteps * RampFraction));
        _every = Math.Max(1, _rampSteps / updates);
    }

    /// <summary>The target sparsity after <paramref name="step"/> optimizer steps.</summary>
    public double SparsityAt(long step, double target) =>
        step >= _rampSteps ? target : target * (1 - Math.Pow(1 - (double)step / _rampSteps, 3));

    public void AfterStep(TrainStep step)
    {
        var t = step.GlobalStep + 1;
        if (t <= _rampSteps && (t % _every == 0 || t == _rampSteps)) Update(t);
        foreach (var (_, _, w, mask) in _layers) w.mul_(mask);
    }

    /// <summary>The target, scope, per-layer sparsities and schedule (what decides the masks).</summary>
    public IEnumerable<KeyValuePair<string, string>> Fingerprint => new Dictionary<string, string>
    {
        ["agp.sparsity"] = _options.Sparsity.ToString("R"),
        ["agp.scope"] = _options.Scope.ToString(),
        ["agp.layers"] = _options.LayerSparsity is { } config ? string.Join(";", config.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value:R}")) : "all",
        ["agp.steps"] = $"ramp {_rampSteps}, every {_every}",
    };

    /// <summary>The masks (they change only every Δ steps, so they are state, not a function of the weights).</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> SaveState() =>
        _layers.Select(l => ("agp.mask:" + l.Name, l.Mask.clone().DetachFromDisposeScope())).ToList();

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        using var noGrad = torch.no_grad();
        foreach (var (name, _, _, mask) in _layers) mask.copy_(state["agp.mask:" + name]);
    }

    /// <summary>The current masks, for reports and further passes.</summary>
    public PruningMasks Masks()
    {
        var masks = new PruningMasks();
        foreach (var (name, _, _, mask) in _layers)
            masks.Set(name, mask.flatten().data<float>().ToArray().Select(v => v != 0).ToArray());
        return masks;
    }

    private void Update(long t)
    {
        using var scope = torch.NewDisposeScope();
        if (_options.Scope == PruneScope.Global)
        {
            var all = torch.cat(_layers.Select(l => l.Weight.abs().flatten()).ToArray());
            var keep = Keep(all, SparsityAt(t, _options.Sparsity));
            var offset = 0L;
            foreach (var (_, _, w, mask) in _layers)
            {
                mask.copy_(keep.narrow(0, offset, w.numel()).reshape(w.shape));
                offset += w.numel();
            }
            return;
        }
        foreach (var (_, layer, w, mask) in _layers)
            mask.copy_(Keep(w.abs().flatten(), SparsityAt(t, _options.LayerSparsity?[layer] ?? _options.Sparsity)).reshape(w.shape));
    }

    /// <summary>1 for the scores kept, 0 for the round(s·n) smallest.</summary>
    private Tensor Keep(Tensor scores, double sparsity)
    {
        var keep = torch.ones_like(scores);
        var k = (long)Math.Round(sparsity * scores.numel());
        if (k > 0)
        {
            var (_, smallest) = scores.topk((int)k, largest: false, sorted: false);
            keep.index_fill_(0, smallest, _zero);
        }
        return keep;
    }

    public void Dispose()
    {
        foreach (var (_, _, _, mask) in _layers) mask.Dispose();
        _layers.Clear();
        _zero.Dispose();
    }
}
