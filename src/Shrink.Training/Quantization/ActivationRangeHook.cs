using Shrink.Training.Execution;

namespace Shrink.Training.Quantization;

/// <summary>
/// Observed activation ranges for quantization-aware training: starts a moving-average min/max
/// observer on each named activation quantizer of the executor (see <see cref="ActivationQuantizer"/>),
/// so the fake quantization follows the activations as the weights change, and keeps the ranges
/// reached at the end of each epoch in <see cref="Ranges"/> for the export.
/// </summary>
public sealed class ActivationRangeHook : ITrainingHook
{
    private readonly GraphExecutor _executor;
    private readonly IReadOnlyList<(string ScaleName, double Lower, double Upper)> _quantizers;
    private readonly double _averaging;
    private readonly Dictionary<string, (double Min, double Max)> _ranges = new();

    /// <param name="executor">The executor being trained; its quantizers are observed.</param>
    /// <param name="quantizers">Scale initializer names and the bounds of the activation each stands for.</param>
    /// <param name="averaging">The moving-average constant (PyTorch's default is 0.01).</param>
    public ActivationRangeHook(GraphExecutor executor, IEnumerable<(string ScaleName, double Lower, double Upper)> quantizers, double averaging = 0.01)
    {
        _executor = executor;
        _quantizers = quantizers.ToList();
        _averaging = averaging;
        foreach (var q in _quantizers)
            if (!executor.Quantizers.ContainsKey(q.ScaleName)) throw new ArgumentException($"the executor has no activation quantizer with scale '{q.ScaleName}'");
    }

    /// <summary>Scale name → the range its parameters cover at the end of the last epoch.</summary>
    public IReadOnlyDictionary<string, (double Min, double Max)> Ranges => _ranges;

    public void OnTrainStart(Trainer trainer)
    {
        foreach (var (name, lower, upper) in _quantizers) _executor.Quantizers[name].Observe(_averaging, lower, upper);
        Snapshot();
    }

    public void OnEpochEnd(EpochMetrics metrics) => Snapshot();

    private void Snapshot()
    {
        foreach (var (name, _, _) in _quantizers) _ranges[name] = _executor.Quantizers[name].Range;
    }
}
