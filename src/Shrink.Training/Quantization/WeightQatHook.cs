using Shrink.Passes.Quantization;
using Shrink.Training.Execution;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Quantization;

/// <summary>
/// Quantization-aware training of the weights with a straight-through estimator (BinaryConnect / TWN
/// style): each layer keeps a float master copy; the network always runs — forward and backward — with
/// the quantized weights, and after every optimizer step the update the optimizer made to the
/// quantized weights is added to the master copy, which is quantized again. The quantized weights are
/// <see cref="TorchWeightQuantizer.FakeQuantize"/> of the master under the scheme the export uses
/// (<see cref="QuantizeStaticPass.WeightSchemes"/>: int8, int4, ternary, binary; per channel, per tensor or
/// block-wise; 8 bits in 7 with reduce range), so the export of <see cref="Masters"/> writes exactly the
/// weights training ran with.
/// </summary>
public sealed class WeightQatHook : ITrainingHook, IDisposable
{
    private sealed record Layer(string Name, Tensor Weight, Tensor Master, Tensor Previous, WeightScheme Scheme);

    private readonly List<Layer> _layers = new();
    private readonly Dictionary<string, Ir.Tensor> _masters = new();
    private readonly Scalar _one = 1L.ToScalar();

    /// <param name="executor">The executor being trained; the weights are its parameters.</param>
    /// <param name="layers">Weight name → the scheme the export quantizes it with.</param>
    public WeightQatHook(GraphExecutor executor, IReadOnlyDictionary<string, WeightScheme> layers)
    {
        foreach (var (name, scheme) in layers)
        {
            var p = executor.FindParameter(name) ?? throw new ArgumentException($"the executor has no parameter '{name}'");
            using var noGrad = torch.no_grad();
            _layers.Add(new Layer(name, p.Tensor, p.Tensor.detach().clone().DetachFromDisposeScope(), p.Tensor.detach().clone().DetachFromDisposeScope(),
                scheme.Validate()));
        }
    }

    /// <summary>
    /// The float master weights as they were at the end of the last epoch (or at the start), by weight name: the
    /// quantized weights training ran with are their quantization, so the export quantizes these.
    /// </summary>
    public IReadOnlyDictionary<string, Ir.Tensor> Masters => _masters;

    /// <summary>Each layer's scheme (the grid it trains on).</summary>
    public IEnumerable<KeyValuePair<string, string>> Fingerprint => new Dictionary<string, string>
    {
        ["qat.layers"] = string.Join(";", _layers.Select(l => $"{l.Name}:{l.Scheme}")),
    };

    /// <summary>The float master copies (the weights themselves are their projection).</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> SaveState() =>
        _layers.Select(l => ("qat.master:" + l.Name, l.Master.clone().DetachFromDisposeScope())).ToList();

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        using var noGrad = torch.no_grad();
        foreach (var l in _layers) l.Master.copy_(state["qat.master:" + l.Name]);
    }

    /// <summary>Projects the master copies (restored ones, when resuming) onto the grid, and keeps them for the export.</summary>
    public void OnTrainStart(Trainer trainer)
    {
        ProjectWeights();
        Snapshot();
    }

    public void OnEpochEnd(EpochMetrics metrics) => Snapshot();

    /// <summary>Puts every weight on its quantization grid now (training starts with this).</summary>
    public void ProjectWeights()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var l in _layers) Project(l);
    }

    public void AfterStep(TrainStep step)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var l in _layers)
        {
            l.Master.add_(l.Weight.sub(l.Previous), _one); // the step taken at the quantized weights, applied to the master copy
            Project(l);
        }
    }

    /// <summary>Weight ← Q(master), and remembers it.</summary>
    private static void Project(Layer l)
    {
        var q = TorchWeightQuantizer.FakeQuantize(l.Master, l.Scheme);
        l.Weight.copy_(q);
        l.Previous.copy_(q);
    }

    private void Snapshot()
    {
        using var scope = torch.NewDisposeScope();
        foreach (var l in _layers)
            _masters[l.Name] = Ir.Tensor.FromFloats(l.Name, l.Master.shape, l.Master.data<float>().ToArray());
    }

    public void Dispose()
    {
        foreach (var l in _layers)
        {
            l.Master.Dispose();
            l.Previous.Dispose();
        }
        _layers.Clear();
        _one.Dispose();
    }
}
