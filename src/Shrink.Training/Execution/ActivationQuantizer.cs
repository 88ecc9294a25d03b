using Shrink.Ir;
using Shrink.Passes.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Execution;

/// <summary>
/// The live parameters of one activation quantizer in the executor: the scale and zero point that the
/// QuantizeLinear and DequantizeLinear nodes sharing them read (0-d tensors, so they can change while
/// training), and — once <see cref="Observe"/> is called — a moving-average min/max observer (PyTorch's
/// MovingAverageMinMaxObserver: range ← range + c·(batch range − range)) that the first QuantizeLinear
/// reading them updates on every training forward before it quantizes. Parameters are recomputed
/// from the range exactly as the static quantizer does (<see cref="QuantParams.ForRange"/>), so the
/// export with <see cref="Range"/> reproduces them.
/// </summary>
public sealed class ActivationQuantizer : IDisposable
{
    private double _min;
    private double _max;
    private double _lower = double.NegativeInfinity;
    private double _upper = double.PositiveInfinity;
    private double _averaging;

    internal ActivationQuantizer(string scaleName, double scale, long zeroPoint, DataType type)
    {
        ScaleName = scaleName;
        Type = type;
        (QMin, QMax) = type == DataType.UInt8 ? (0L, 255L) : (-128L, 127L);
        Scale = torch.tensor((float)scale).DetachFromDisposeScope();
        ZeroPoint = torch.tensor((float)zeroPoint).DetachFromDisposeScope();
        // The range these parameters stand for (ForRange of it gives them back).
        (_min, _max) = type == DataType.UInt8 ? ((QMin - zeroPoint) * scale, (QMax - zeroPoint) * scale) : (-127 * scale, 127 * scale);
    }

    /// <summary>The scale initializer's name, which identifies the quantizer.</summary>
    public string ScaleName { get; }

    public DataType Type { get; }
    public long QMin { get; }
    public long QMax { get; }
    internal Tensor Scale { get; }
    internal Tensor ZeroPoint { get; }

    /// <summary>The QuantizeLinear node that observes (the first in topological order to read this scale).</summary>
    internal Node? Observer { get; set; }

    /// <summary>True once <see cref="Observe"/> was called.</summary>
    public bool Observing => _averaging > 0;

    /// <summary>The range the current parameters cover (observed, or as compiled).</summary>
    public (double Min, double Max) Range => (_min, _max);

    /// <summary>
    /// Starts observing: every training forward moves the range by <paramref name="averaging"/> toward
    /// the batch's min/max, clamped to [<paramref name="lower"/>, <paramref name="upper"/>] (the bounds of
    /// an activation the quantizer stands for: 0 for a ReLU the quantized layer absorbed).
    /// </summary>
    public void Observe(double averaging, double lower = double.NegativeInfinity, double upper = double.PositiveInfinity)
    {
        if (!(averaging > 0 && averaging <= 1)) throw new ArgumentOutOfRangeException(nameof(averaging), averaging, "the averaging constant must be in (0, 1]");
        _averaging = averaging;
        _lower = lower;
        _upper = upper;
    }

    /// <summary>Moves the range toward <paramref name="x"/>'s and recomputes the parameters (no gradient).</summary>
    internal void Update(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        if (x.numel() == 0) return;
        double batchMin = x.min().item<float>(), batchMax = x.max().item<float>();
        if (!double.IsFinite(batchMin) || !double.IsFinite(batchMax)) return; // one bad batch must not ruin the range
        var min = Math.Clamp(batchMin, _lower, _upper);
        var max = Math.Clamp(batchMax, _lower, _upper);
        _min += _averaging * (min - _min);
        _max += _averaging * (max - _max);
        var p = QuantParams.ForRange(_min, _max, Type);
        Scale.fill_(p.Scale);
        ZeroPoint.fill_(p.ZeroPoint);
    }

    /// <summary>The observer's state: the range, then the scale and zero point it gave.</summary>
    internal double[] SaveState() => new[] { _min, _max, Scale.item<float>(), ZeroPoint.item<float>() };

    /// <summary>Restores what <see cref="SaveState"/> saved.</summary>
    internal void LoadState(ReadOnlySpan<double> state)
    {
        (_min, _max) = (state[0], state[1]);
        using var scale = state[2].ToScalar();
        using var zeroPoint = state[3].ToScalar();
        using var noGrad = torch.no_grad();
        Scale.fill_(scale);
        ZeroPoint.fill_(zeroPoint);
    }

    public void Dispose()
    {
        Scale.Dispose();
        ZeroPoint.Dispose();
    }
}
