using Shrink.Training.Execution;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

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
    private bool _restored;

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

    /// <summary>The averaging constant and each observed quantizer with its bounds.</summary>
    public IEnumerable<KeyValuePair<string, string>> Fingerprint => new Dictionary<string, string>
    {
        ["ranges.averaging"] = _averaging.ToString("R"),
        ["ranges.quantizers"] = string.Join(";", _quantizers.Select(q => $"{q.ScaleName}:[{q.Lower:R},{q.Upper:R}]")),
    };

    /// <summary>Per quantizer: the moving range with the parameters it gave, and the range kept at the last epoch's end (float64 [6]).</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> SaveState() => _quantizers.Select(q =>
    {
        var quantizer = _executor.Quantizers[q.ScaleName];
        var (min, max) = _ranges.TryGetValue(q.ScaleName, out var kept) ? kept : quantizer.Range;
        var values = quantizer.SaveState().Concat(new[] { min, max }).ToArray();
        return ("ranges.observer:" + q.ScaleName, torch.tensor(values, ScalarType.Float64).DetachFromDisposeScope());
    }).ToList();

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        foreach (var (name, _, _) in _quantizers)
        {
            var v = state["ranges.observer:" + name].data<double>().ToArray();
            _executor.Quantizers[name].LoadState(v.AsSpan(0, 4));
            _ranges[name] = (v[4], v[5]);
        }
        _restored = true;
    }

    /// <summary>Starts the observers; keeps the ranges as they start, unless a checkpoint gave them back.</summary>
    public void OnTrainStart(Trainer trainer)
    {
        foreach (var (name, lower, upper) in _quantizers) _executor.Quantizers[name].Observe(_averaging, lower, upper);
        if (!_restored) Snapshot();
    }

    public void OnEpochEnd(EpochMetrics metrics) => Snapshot();

    private void Snapshot()
    {
        foreach (var (name, _, _) in _quantizers) _ranges[name] = _executor.Quantizers[name].Range;
    }
}
