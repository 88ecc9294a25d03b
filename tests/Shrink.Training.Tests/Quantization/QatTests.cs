using Shrink.Data;
using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Training.Tests.Quantization;

/// <summary>Quantization-aware training: weights end on the grid, the executor's Q/DQ equals ONNX Runtime's, and the export agrees.</summary>
[Collection("torch")]
public class QatTests
{
    /// <summary>
    /// The executor as QAT trains (Q/DQ on the activations, the weights put on their grid by
    /// <see cref="Shrink.Training.Quantization.WeightQatHook"/>) against ONNX Runtime on the static export
    /// with the same ranges. (ONNX Runtime given the training graph itself would quantize its float weights
    /// on its own, per tensor in full range — not what ships.)
    /// </summary>
    [Theory]
    [InlineData("uint8")]
    [InlineData("int8")]
    public void ExecutorQdqMatchesOnnxRuntime(string activations)
    {
        Shrink.Training.TorchRuntime.EnsureInitialized();
        var data = FashionMnist.LoadEmbedded();
        var options = new QuantizationOptions { Activations = activations == "int8" ? DataType.Int8 : DataType.UInt8 };
        var model = new PassPipeline(new FoldBatchNormPass()).Run(ModelZoo.Create("vgg-small", seed: 3), new PassContext()).Model;
        var plan = new QuantizeStaticPass(options).Plan(model);
        var ranges = Calibrator.Collect(model, plan.CalibrationValues, CalibrationSet.From(data.Train, 64), CalibrationMethod.MinMax);
        var schemes = new QuantizeStaticPass(options).WeightSchemes(model);
        var training = new QuantizeStaticPass(options, ranges) { ActivationsOnly = true }.Run(model, new PassContext()).Model;
        Assert.Contains(training.Graph.Nodes, n => n.OpType == "QuantizeLinear");
        model = new QuantizeStaticPass(options, ranges).Run(model, new PassContext()).Model;

        var (x, _) = data.Test.Batch(0, 16);
        using var ort = OnnxRunner.FromModel(model, new RunnerOptions { Threads = 1 });
        var expected = (float[])ort.Run(new[] { new HostTensor(ort.Inputs[0].Name, x, new long[] { 16, 1, 28, 28 }) })[0].Data;
        using var executor = Shrink.Training.Execution.GraphExecutor.Compile(training);
        using var hook = new Shrink.Training.Quantization.WeightQatHook(executor, schemes);
        hook.ProjectWeights();
        // The executor's weights are the export's levels times its scales, bit for bit.
        Assert.NotEmpty(schemes);
        foreach (var (name, scheme) in schemes)
        {
            var levels = model.Graph.FindInitializer(name + "_quantized")!.Const!.ToDoubles();
            var scales = model.Graph.FindInitializer(name + "_scale")!.Const!.AsFloats().ToArray();
            var trained = executor.FindParameter(name)!.Tensor.data<float>().ToArray();
            var groups = scheme.Groups(model.Graph.FindInitializer(name + "_quantized")!.Const!.Dims);
            Assert.Equal(levels.Length, trained.Length);
            for (var i = 0; i < trained.Length; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits((float)levels[i] * scales[groups.Of(i)]), BitConverter.SingleToInt32Bits(trained[i]));
        }
        executor.Training = false;
        using var input = TorchSharp.torch.tensor(x, new long[] { 16, 1, 28, 28 });
        var actual = executor.Forward(input)[0].data<float>().ToArray();
        // ONNX Runtime multiplies by 1/scale where torch divides, and rounds the biases to int32: a value on a rounding
        // tie may land one level apart. Allow one output quantization step at most, and far less on average.
        var scale = expected.Max(Math.Abs);
        var worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second)) / scale;
        var mean = expected.Zip(actual).Average(p => Math.Abs(p.First - p.Second)) / scale;
        Assert.True(worst < 1.0 / 127 && mean < 1e-3, $"Q/DQ {activations}: largest difference {worst:E2}, mean {mean:E2} of the output scale");
    }
}

/// <summary>Observed activation ranges: the executor's moving-average observers and the export that follows them.</summary>
[Collection("torch")]
public class ObservedRangeTests
{
    [Fact]
    public void ObserversFollowTheBatchAndKeepReluBounds()
    {
        Shrink.Training.TorchRuntime.EnsureInitialized();
        var data = FashionMnist.LoadEmbedded();
        var options = new QuantizationOptions();
        var model = new PassPipeline(new FoldBatchNormPass()).Run(ModelZoo.Create("vgg-small", seed: 3), new PassContext()).Model;
        var plan = new QuantizeStaticPass(options).Plan(model);
        var ranges = Calibrator.Collect(model, plan.CalibrationValues, CalibrationSet.From(data.Train, 32), CalibrationMethod.MinMax);
        var fakeQuant = new QuantizeStaticPass(options, ranges) { ActivationsOnly = true }.Run(model, new PassContext());
        model = fakeQuant.Model;
        var scales = fakeQuant.Artifact<ActivationQuantizers>()!.Scales;
        // MaxPool outputs share their input's scale: one quantizer per calibrated range.
        Assert.Equal(plan.CalibrationValues.Count, scales.Count);
        Assert.Contains(scales, a => a.Lower == 0); // ReLUs absorbed by the convolutions

        using var executor = Shrink.Training.Execution.GraphExecutor.Compile(model);
        Assert.Equal(scales.Count, executor.Quantizers.Count);
        foreach (var a in scales)
        {
            var (min, max) = executor.Quantizers[a.ScaleName].Range;
            Assert.Equal(QuantParams.ForRange(ranges[a.RangeKey].Min, ranges[a.RangeKey].Max, DataType.UInt8).Scale, (float)((max - min) / 255), 5);
            executor.Quantizers[a.ScaleName].Observe(1.0, a.Lower, a.Upper); // averaging 1: the range becomes the batch's
        }
        var (x, _) = data.Train.Batch(0, 16);
        using var input = TorchSharp.torch.tensor(x, new long[] { 16, 1, 28, 28 });
        var calibrated = scales.Select(a => executor.Quantizers[a.ScaleName].Range).ToList();
        executor.Training = false;
        using (TorchSharp.torch.NewDisposeScope()) executor.Forward(input);
        Assert.Equal(calibrated, scales.Select(a => executor.Quantizers[a.ScaleName].Range)); // evaluation does not observe
        executor.Training = true;
        using (TorchSharp.torch.NewDisposeScope()) executor.Forward(input);
        Assert.NotEqual(calibrated, scales.Select(a => executor.Quantizers[a.ScaleName].Range)); // training does
        foreach (var a in scales)
        {
            var (min, max) = executor.Quantizers[a.ScaleName].Range;
            if (a.Lower == 0) Assert.Equal(0, min); // a ReLU's range never goes below zero
            Assert.True(max > 0);
        }
        var input0 = scales.First(a => a.RangeKey == "input");
        Assert.Equal((double)x.Min(), executor.Quantizers[input0.ScaleName].Range.Min, 5);
        Assert.Equal((double)x.Take(16 * 784).Max(), executor.Quantizers[input0.ScaleName].Range.Max, 5);
    }

}
