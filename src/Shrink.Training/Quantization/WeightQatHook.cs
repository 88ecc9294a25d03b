using Shrink.Ir;
using Shrink.Training.Execution;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Quantization;

/// <summary>
/// Quantization-aware training of the weights with a straight-through estimator (BinaryConnect / TWN
/// style): each layer keeps a float master copy; the network always runs — forward and backward — with
/// the quantized weights, and after every optimizer step the update the optimizer made to the
/// quantized weights is added to the master copy, which is quantized again. At the end the weights lie
/// exactly on the quantization grid of <see cref="Passes.Quantization.WeightQuantizer"/> (int8, int4,
/// ternary, binary; per output channel or per tensor; 8 bits in 7 with reduce range), so the static
/// quantizer reproduces them level for level.
/// </summary>
public sealed class WeightQatHook : ITrainingHook, IDisposable
{
    private sealed record Layer(string Name, Tensor Weight, Tensor Master, Tensor Previous, int Axis, int Bits);

    private readonly List<Layer> _layers = new();
    private readonly bool _perChannel;
    private readonly bool _reduceRange;
    private readonly Scalar _one = 1L.ToScalar();

    /// <param name="executor">The executor being trained; the weights are its parameters.</param>
    /// <param name="layers">Weight name → (output-channel axis, bits) of every layer to quantize.</param>
    /// <param name="perChannel">One scale per output channel (else one per tensor), as the export will use.</param>
    /// <param name="reduceRange">8-bit weights in 7 bits (±64), as the export will use (<see cref="Passes.Quantization.QuantizationOptions.ResolveReduceRange"/>).</param>
    public WeightQatHook(GraphExecutor executor, IReadOnlyDictionary<string, (int Axis, int Bits)> layers, bool perChannel, bool reduceRange = false)
    {
        _perChannel = perChannel;
        _reduceRange = reduceRange;
        foreach (var (name, (axis, bits)) in layers)
        {
            var p = executor.FindParameter(name) ?? throw new ArgumentException($"the executor has no parameter '{name}'");
            using var noGrad = torch.no_grad();
            _layers.Add(new Layer(name, p.Tensor, p.Tensor.detach().clone().DetachFromDisposeScope(), p.Tensor.detach().clone().DetachFromDisposeScope(), axis, bits));
        }
    }

    /// <summary>The grid: per channel or per tensor, reduced range, and each layer's axis and bits.</summary>
    public IEnumerable<KeyValuePair<string, string>> Fingerprint => new Dictionary<string, string>
    {
        ["qat.grid"] = $"{(_perChannel ? "per-channel" : "per-tensor")}{(_reduceRange ? ", reduce-range" : "")}",
        ["qat.layers"] = string.Join(";", _layers.Select(l => $"{l.Name}:{l.Axis}:{l.Bits}")),
    };

    /// <summary>The float master copies (the weights themselves are their projection).</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> SaveState() =>
        _layers.Select(l => ("qat.master:" + l.Name, l.Master.clone().DetachFromDisposeScope())).ToList();

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        using var noGrad = torch.no_grad();
        foreach (var l in _layers) l.Master.copy_(state["qat.master:" + l.Name]);
    }

    /// <summary>Projects the master copies (restored ones, when resuming) onto the grid.</summary>
    public void OnTrainStart(Trainer trainer) => ProjectWeights();

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
    private void Project(Layer l)
    {
        var q = Quantize(l.Master, l.Axis, l.Bits);
        l.Weight.copy_(q);
        l.Previous.copy_(q);
    }

    private Tensor Quantize(Tensor w, int axis, int bits)
    {
        var others = Enumerable.Range(0, (int)w.dim()).Where(d => !_perChannel || d != axis).Select(d => (long)d).ToArray();
        var magnitude = w.abs();
        if (bits == 1)
        {
            // BWN: α = mean|w| per channel, levels ±1 (a channel that is all zero stays zero).
            var alpha = magnitude.mean(others, keepdim: true);
            return w.sign().mul(alpha);
        }
        if (bits == 2)
        {
            // TWN: Δ = 0.7·mean|w|, α = mean of the |w| above Δ, levels −1, 0, +1.
            var delta = magnitude.mean(others, keepdim: true).mul(torch.tensor(0.7f));
            var mask = magnitude.gt(delta).to_type(ScalarType.Float32);
            var alpha = magnitude.mul(mask).sum(others, keepdim: true).div(mask.sum(others, keepdim: true).clamp_min(_one));
            return w.sign().mul(mask).mul(alpha);
        }
        var levels = (float)Passes.Quantization.WeightQuantizer.Limit(bits, _reduceRange);
        var scale = magnitude.amax(others, keepdim: true).div(torch.tensor(levels));
        scale = torch.where(scale.gt(torch.tensor(0f)), scale, torch.ones_like(scale));
        return w.div(scale).round().clamp(torch.tensor(-levels), torch.tensor(levels)).mul(scale);
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
