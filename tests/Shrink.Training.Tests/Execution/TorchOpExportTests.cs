using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Training.Execution;
using Xunit;

namespace Shrink.Training.Tests.Execution;

/// <summary>
/// Models exported by PyTorch 1.13 (tests/data/torch/make_op_models.py) holding Resize, Upsample, ConvTranspose,
/// Pad, HardSigmoid, HardSwish, Sigmoid·Mul gates, Erf, Where, Expand, Tile and Einsum as the exporter writes
/// them: the executor against ONNX Runtime and against PyTorch's own output, and its gradients.
/// </summary>
[Collection("torch")]
public class TorchOpExportTests
{
    /// <summary>Against ONNX Runtime, of the output's scale: largest difference measured 1.9e-7; gate 1e-6, 5× that.</summary>
    private const double Tolerance = 1e-6;

    /// <summary>Against PyTorch's own output (another convolution and interpolation code): measured 8.2e-7; gate 5e-6, 6× that.</summary>
    private const double PyTorchTolerance = 5e-6;

    public static TheoryData<string> Names => new() { "segnet_tiny", "segnet_opset10", "upsample_opset9", "attention_ops_tiny" };

    [Theory]
    [MemberData(nameof(Names))]
    public void MatchesOnnxRuntimeAndPyTorch(string name)
    {
        var model = OnnxReader.Read(TestModels.TorchPath(name));
        var feeds = Feeds(name, model);
        OpParity.AssertMatches(model, feeds, Tolerance, $"{name} vs ONNX Runtime");
        var ours = OpParity.RunExecutor(model, feeds)[0];
        var (reference, shape) = TestModels.TorchArray(name, "output");
        Assert.Equal(shape, ours.Shape);
        OpParity.AssertClose(reference.Select(v => (double)v).ToArray(), ((float[])ours.Data).Select(v => (double)v).ToArray(), PyTorchTolerance, $"{name} vs PyTorch");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void GradientsReachTheInputThroughEveryOp(string name)
    {
        var model = OnnxReader.Read(TestModels.TorchPath(name));
        OpParity.AssertInputGradient(model, Feeds(name, model), eps: 1e-3, tolerance: 1e-2);
    }

    [Fact]
    public void TheTransposedConvolutionAndTheExpandedWeightsTrain()
    {
        var segnet = OnnxReader.Read(TestModels.TorchPath("segnet_tiny"));
        OpParity.AssertParameterGradient(segnet, Feeds("segnet_tiny", segnet), "up_t.weight", eps: 1e-3, tolerance: 1e-2);
        var attention = OnnxReader.Read(TestModels.TorchPath("attention_ops_tiny"));
        OpParity.AssertParameterGradient(attention, Feeds("attention_ops_tiny", attention), "mix", eps: 1e-3, tolerance: 1e-2);
    }

    [Fact]
    public void SequenceLengthStaysDynamic()
    {
        // attention_ops_tiny's Expand and Tile targets come from Shape: another sequence length runs as in ONNX Runtime.
        var model = OnnxReader.Read(TestModels.TorchPath("attention_ops_tiny"));
        var random = new Random(3);
        var data = Enumerable.Range(0, 3 * 9 * 16).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        OpParity.AssertMatches(model, new[] { new HostTensor(model.Graph.Inputs[0].Name, data, new long[] { 3, 9, 16 }) }, Tolerance, "seq 9");
    }

    private static IReadOnlyList<HostTensor> Feeds(string name, Shrink.Ir.Model model)
    {
        var (data, shape) = TestModels.TorchArray(name, "input");
        return new[] { new HostTensor(model.Graph.Inputs[0].Name, data, shape) };
    }
}
