using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Shrink.Techniques;
using Shrink.Training.FineTuning;
using Shrink.Training.Quantization;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Training.Tests.Quantization;

/// <summary>
/// One scheme definition, two implementations: the host quantizer (what the export writes) and the TorchSharp one
/// (what QAT trains on) give the same levels and scales bit for bit for every scheme, and a QAT run's weights are
/// the exported weights as ONNX Runtime dequantizes them, bit for bit.
/// </summary>
[Collection("torch")]
public class WeightSchemeTests
{
    public static TheoryData<int, WeightGranularity, int, bool> Schemes => new()
    {
        { 8, WeightGranularity.PerTensor, 0, false }, { 8, WeightGranularity.PerChannel, 0, false }, { 8, WeightGranularity.PerChannel, 0, true },
        { 8, WeightGranularity.PerTensor, 0, true }, { 4, WeightGranularity.PerChannel, 0, false }, { 4, WeightGranularity.PerTensor, 0, false },
        { 4, WeightGranularity.BlockWise, 4, false }, { 4, WeightGranularity.BlockWise, 7, false }, { 2, WeightGranularity.PerChannel, 0, false },
        { 2, WeightGranularity.PerTensor, 0, false }, { 2, WeightGranularity.BlockWise, 4, false }, { 1, WeightGranularity.PerChannel, 0, false },
        { 1, WeightGranularity.PerTensor, 0, false }, { 1, WeightGranularity.BlockWise, 7, false },
    };

    /// <summary>A conv-like [6, 10, 3, 3] weight: Gaussian values, a pruned (all-zero) output channel, scattered exact zeros, and a tie.</summary>
    private static float[] Weights(long[] dims, int seed)
    {
        var rng = new Random(seed);
        var n = dims.Aggregate(1L, (a, b) => a * b);
        var values = new float[n];
        for (var i = 0; i < n; i++) values[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()) * 0.1);
        for (var i = 0; i < n; i += 11) values[i] = 0;
        var channel = n / dims[0];
        for (var i = 2 * channel; i < 3 * channel; i++) values[i] = 0; // output channel 2 pruned
        values[channel] = 0.5f;
        values[channel + 1] = 0.5f * 2.5f / 127; // a level exactly half way (2.5) under per-channel int8
        return values;
    }

    [Theory]
    [MemberData(nameof(Schemes))]
    public void HostAndTorchGiveTheSameLevelsAndScales(int bits, WeightGranularity granularity, int block, bool reduceRange)
    {
        Shrink.Training.TorchRuntime.EnsureInitialized();
        var dims = new long[] { 6, 10, 3, 3 };
        foreach (var axis in granularity == WeightGranularity.PerTensor ? new[] { 0 } : new[] { 0, 1 })
        {
            var scheme = new WeightScheme { Bits = bits, Granularity = granularity, Axis = axis, BlockSize = block, ReduceRange = reduceRange };
            var values = Weights(dims, seed: bits * 10 + axis);
            var (levels, scales) = WeightQuantizer.Quantize(values, dims, scheme);
            using var scope = TorchSharp.torch.NewDisposeScope();
            var w = TorchSharp.torch.tensor(values, dims);
            var (tl, ts) = TorchWeightQuantizer.Quantize(w, scheme);
            Assert.Equal(scales.Length, scheme.Groups(dims).Count);
            Assert.Equal(scales.Select(BitConverter.SingleToInt32Bits), ts.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits));
            var dequantized = TorchWeightQuantizer.FakeQuantize(w, scheme).data<float>().ToArray();
            var groups = scheme.Groups(dims);
            for (var i = 0; i < values.Length; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(levels[i] * scales[groups.Of(i)]), BitConverter.SingleToInt32Bits(dequantized[i]));
            Assert.Equal(levels.Length, tl.numel() - (groups.Blocked ? groups.Outer * (groups.Groups * groups.Length - groups.Channels) * groups.Inner : 0));
        }
    }

    public static TheoryData<string, int, bool, int, string> Runs => new()
    {
        { "int8", 0, true, 0, "auto" }, { "int8", 0, false, 0, "on" }, { "int4", 0, true, 0, "auto" }, { "int4", 32, true, 0, "auto" },
        { "ternary", 16, true, 0, "auto" }, { "binary", 0, false, 0, "auto" }, { "int4", 32, true, 1, "auto" },
    };

    /// <summary>
    /// A short QAT run of lenet300 (observed ranges; <paramref name="floatActivations"/> 1: weight-only) for each scheme; every
    /// weight the executor ended with equals ONNX Runtime's DequantizeLinear of the exported levels and scales, bit for bit.
    /// </summary>
    [Theory]
    [MemberData(nameof(Runs))]
    public void QatTrainsOnTheWeightsTheExportShips(string weights, int block, bool perChannel, int floatActivations, string reduceRange)
    {
        var data = FashionMnist.LoadEmbedded();
        var options = new QatOptions
        {
            Quantize = new QuantizeOptions
            {
                Weights = (WeightPrecision)LayerBitsConfig.Parse(weights)!.Value, BlockSize = block, PerChannel = perChannel, CalibrationSamples = 64,
                Activations = floatActivations == 1 ? ActivationPrecision.Float : ActivationPrecision.UInt8,
                ReduceRange = reduceRange == "on" ? ReduceRange.On : ReduceRange.Auto,
                Storage = WeightStorage.Int4, // every layer behind DequantizeLinear (MatMulNBits: the test below)
            },
            FineTune = new FineTuneOptions { Epochs = 1, LearningRate = 0.05, Batch = 64 },
        };
        var inputs = new TechniqueInputs { Data = new DataSplits(data.Train.Take(512), data.Test.Take(128)) };
        var result = QuantizationAwareTraining.Run(ModelZoo.Create("lenet300", seed: 3), inputs, options, TechniqueSession.Quiet);
        var exported = result.Quantized.Model;
        var parameters = result.Quantized.Parameters.Tensors.Where(t => t.Role == QuantizedRole.Weight).ToList();
        Assert.Equal(3, parameters.Count);
        Assert.All(parameters, w => Assert.Equal((block, perChannel || block > 0), (w.BlockSize, w.Axis is not null)));
        var shipped = Dequantized(exported);
        Assert.Equal(3, shipped.Count);
        foreach (var (name, values) in shipped)
        {
            var trained = result.Trained.Graph.FindInitializer(name)!.Const!.AsFloats().ToArray();
            Assert.Equal(trained.Select(BitConverter.SingleToInt32Bits), values.Select(BitConverter.SingleToInt32Bits));
        }
    }

    /// <summary>
    /// Weight-only int4 QAT with the default storage exports MatMulNBits: the weights the executor ended with are the
    /// exported blocks' (level − zero point) · scale, bit for bit, in the layer's own layout.
    /// </summary>
    [Fact]
    public void QatTrainsOnTheWeightsMatMulNBitsShips()
    {
        var data = FashionMnist.LoadEmbedded();
        var options = new QatOptions
        {
            Quantize = new QuantizeOptions { Weights = WeightPrecision.Int4, Activations = ActivationPrecision.Float, CalibrationSamples = 64 },
            FineTune = new FineTuneOptions { Epochs = 1, LearningRate = 0.05, Batch = 64 },
        };
        var inputs = new TechniqueInputs { Data = new DataSplits(data.Train.Take(512), data.Test.Take(128)) };
        var result = QuantizationAwareTraining.Run(ModelZoo.Create("lenet300", seed: 3), inputs, options, TechniqueSession.Quiet);
        var nodes = result.Quantized.Model.Graph.Nodes.Where(n => n.OpType == "MatMulNBits").ToList();
        Assert.Equal(3, nodes.Count);
        foreach (var node in nodes)
        {
            var w = MatMulNBits.Read(node)!;
            var name = node.Inputs[1]!.Name[..^"_Q4".Length];
            var layer = result.Trained.Graph.Nodes.Single(n => n.Inputs.ElementAtOrDefault(1)?.Name == name);
            var transB = layer.OpType == "Gemm" && layer.GetInt("transB", 0) != 0;
            var trained = result.Trained.Graph.FindInitializer(name)!.Const!.AsFloats().ToArray();
            var shipped = new float[trained.Length];
            for (var n = 0; n < w.N; n++)
                for (var k = 0; k < w.K; k++) shipped[transB ? n * w.K + k : k * w.N + n] = w.Dequantized(n, k);
            Assert.Equal(trained.Select(BitConverter.SingleToInt32Bits), shipped.Select(BitConverter.SingleToInt32Bits));
        }
    }

    /// <summary>Weight name → the weight as ONNX Runtime's DequantizeLinear computes it from the exported model.</summary>
    private static Dictionary<string, float[]> Dequantized(Model exported)
    {
        var copy = exported.Clone();
        var weights = copy.Graph.Nodes.Where(n => n.OpType == "DequantizeLinear" && n.Inputs[0]!.Const is not null && n.Inputs[0]!.Name.EndsWith(".weight_quantized")).ToList();
        foreach (var dq in weights) copy.Graph.Outputs.Add(dq.Outputs[0]!);
        using var runner = OnnxRunner.FromModel(copy, new RunnerOptions { Threads = 1 });
        var outputs = runner.Run(runner.RandomInputs(1, seed: 1));
        return weights.ToDictionary(dq => dq.Inputs[0]!.Name[..^"_quantized".Length], dq => (float[])outputs.Single(o => o.Name == dq.Outputs[0]!.Name).Data);
    }
}
