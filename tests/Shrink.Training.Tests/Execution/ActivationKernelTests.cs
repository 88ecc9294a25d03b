using Shrink.Ir;
using Xunit;
using Attribute = Shrink.Ir.Attribute;

namespace Shrink.Training.Tests.Execution;

/// <summary>
/// The activations and gates of mobile and transformer exports against ONNX Runtime, on inputs of scale 4 so that the
/// hard ones saturate: libtorch's sigmoid and erf are not ONNX Runtime's (largest difference measured 9.6e-8 of the
/// output's scale; gate 1e-6, 10× that).
/// </summary>
[Collection("torch")]
public class ActivationKernelTests
{
    private const double Tolerance = 1e-6;

    [Fact]
    public void HardSigmoidAndHardSwishMatchOnnxRuntime()
    {
        var g = new OpGraph(14);
        var x = g.Input(new long[] { 2, 3, 8, 8 }, 4f);
        var standard = g.Op("HardSigmoid", x);
        var torchStyle = g.Op("HardSigmoid", x, Attribute.Float("alpha", 1f / 6), Attribute.Float("beta", 0.5f));
        var swish = g.Op("HardSwish", x);
        var model = g.Build(standard, torchStyle, swish);
        OpParity.AssertMatches(model, g.Feeds, Tolerance);
        foreach (var i in new[] { 0, 1, 2 })
            OpParity.AssertInputGradient(Single(model, i), g.Feeds, eps: 1e-3);
    }

    [Fact]
    public void SigmoidMulGatesBroadcastAsOnnxRuntimeDoes()
    {
        // SiLU (x · σ(x)), a squeeze-excitation gate (σ(s) of [N,C,1,1] times x, either order) and a per-channel
        // gate of [C,1,1] weights without the batch axis.
        var g = new OpGraph(13);
        var x = g.Input(new long[] { 2, 4, 3, 5 }, 4f);
        var s = g.Input(new long[] { 2, 4, 1, 1 }, 4f);
        var silu = g.Op("Mul", new[] { x, g.Op("Sigmoid", x) });
        var se = g.Op("Mul", new[] { g.Op("Sigmoid", s), x });
        var channel = g.Op("Mul", new[] { x, g.Op("Sigmoid", g.RandomFloats(4, 1, 1)) });
        var model = g.Build(silu, se, channel);
        OpParity.AssertMatches(model, g.Feeds, Tolerance);
        foreach (var (i, input) in new[] { (0, 0), (1, 0), (1, 1), (2, 0) })
            OpParity.AssertInputGradient(Single(model, i), g.Feeds, input);
    }

    [Fact]
    public void ErfGeluAsPyTorchExportsItMatchesOnnxRuntime()
    {
        // nn.GELU() at opset 13: x · 0.5 · (1 + erf(x / √2)), with scalar constants.
        var g = new OpGraph(13);
        var x = g.Input(new long[] { 2, 7, 16 }, 4f);
        var erf = g.Op("Erf", g.Op("Div", new[] { x, g.Scalar(1.4142135f) }));
        var gelu = g.Op("Mul", new[] { g.Op("Mul", new[] { x, g.Op("Add", new[] { erf, g.Scalar(1f) }) }), g.Scalar(0.5f) });
        var model = g.Build(gelu, erf);
        OpParity.AssertMatches(model, g.Feeds, Tolerance);
        OpParity.AssertInputGradient(Single(model, 0), g.Feeds);
    }

    /// <summary>The model with only output <paramref name="index"/> (the executor differentiates its first output).</summary>
    private static Model Single(Model model, int index)
    {
        var copy = model.Clone();
        var keep = copy.Graph.Outputs[index];
        copy.Graph.Outputs.Clear();
        copy.Graph.Outputs.Add(keep);
        return copy;
    }
}
