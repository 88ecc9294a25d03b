using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Ops;
using Shrink.Passes;
using Shrink.Passes.Cleanup;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Quantization;

/// <summary>Low-bit weights as ONNX INT4 (opset 21), block-wise scales, weight-only quantization and the opset upgrade under them.</summary>
public class Int4StorageTests
{
    private static Model Quantize(string zoo, QuantizationOptions options, PassContext? context = null)
    {
        var data = FashionMnist.LoadEmbedded();
        var model = new PassPipeline(new FoldConstantsPass(), new FoldBatchNormPass()).Run(ModelZoo.Create(zoo, seed: 3), new PassContext()).Model;
        var plan = new QuantizeStaticPass(options).Plan(model);
        var ranges = options.Activations == DataType.Float ? new Dictionary<string, (double, double)>()
            : Calibrator.Collect(model, plan.CalibrationValues, CalibrationSet.From(data.Train, 64), options.Calibration);
        return new PassPipeline(new QuantizeStaticPass(options, ranges)) { VerifyEach = true }.Run(model, context ?? new PassContext()).Model;
    }

    private static float[] Run(Model model, float[] x, long[] shape)
    {
        using var runner = OnnxRunner.FromModel(model, new RunnerOptions { Threads = 1 });
        return (float[])runner.Run(new[] { new HostTensor(runner.Inputs[0].Name, x, shape) })[0].Data;
    }

    /// <summary>Mean |a − b| over the outputs of 64 embedded test images, as a fraction of a's largest output.</summary>
    private static double MeanError(Model a, Model b)
    {
        var data = FashionMnist.LoadEmbedded().Test.Take(64);
        var (x, _) = data.Batch(0, data.Count);
        var shape = new long[] { data.Count, 1, 28, 28 };
        var (ya, yb) = (Run(a, x, shape), Run(b, x, shape));
        return ya.Zip(yb).Average(p => Math.Abs(p.First - p.Second)) / ya.Max(Math.Abs);
    }

    [Fact]
    public void Int4HoldsTheSameLevelsAsInt8AndOnnxRuntimeRunsIt()
    {
        var context = new PassContext();
        var int4 = Quantize("lenet5", new QuantizationOptions { WeightBits = 4 }, context);
        var int8 = Quantize("lenet5", new QuantizationOptions { WeightBits = 4, LowBitStorage = DataType.Int8 });
        Assert.Equal(21, int4.DefaultOpset);
        Assert.True(int4.IrVersion >= 10);
        Assert.Contains(context.Notes, n => n.Contains("no integer Conv or Gemm kernel for int4"));
        foreach (var packed in int4.Graph.Initializers.Where(v => v.Name.EndsWith(".weight_quantized")))
        {
            Assert.Equal(DataType.Int4, packed.Const!.DataType);
            Assert.Equal((packed.Const.ElementCount + 1) / 2, packed.Const.RawData.Length);
            var levels = int8.Graph.FindInitializer(packed.Name)!.Const!;
            Assert.Equal(levels.ToDoubles(), packed.Const.ToDoubles()); // unpacked nibbles are the int8 levels, sign included
            Assert.Contains(packed.Const.ToDoubles(), v => v < 0);
        }
        // Same levels and ranges; ONNX Runtime runs int8 storage as QLinearConv (integer requantization) and int4 storage in
        // float, so the two differ only by rounding. Gate: measured 5.44e-5 of the output scale, 1.8× margin.
        var error = MeanError(int8, int4);
        Assert.True(error < 1e-4, $"int4 storage against int8 storage: mean error {error:E2} of the output scale");
        var sizes = (ModelStats(int4), ModelStats(int8));
        Assert.InRange((double)sizes.Item2 / sizes.Item1, 1.8, 2.1); // the weights take half the bytes
    }

    private static long ModelStats(Model m) => OnnxWriter.ToBytes(m).Length;

    [Fact]
    public void BlockWiseScalesFollowTheReductionAxis()
    {
        var model = Quantize("lenet300", new QuantizationOptions { WeightBits = 4, BlockSize = 32 });
        foreach (var layer in model.Graph.Nodes.Where(n => n.OpType == "Gemm"))
        {
            var dq = layer.Inputs[1]!.Producer!;
            var w = dq.Inputs[0]!.Const!;
            var axis = layer.GetInt("transB", 0) != 0 ? 1 : 0; // K
            Assert.Equal(32, dq.GetInt("block_size", 0));
            Assert.Equal(axis, dq.GetInt("axis", -1));
            var scales = dq.Inputs[1]!.Const!.Dims;
            Assert.Equal(w.Dims.Select((d, i) => i == axis ? (d + 31) / 32 : d), scales);
            Assert.NotEqual("DequantizeLinear", layer.Inputs[2]!.Producer?.OpType); // the bias stays float
        }
        // Gate: measured 2.62e-2 of the output scale (int4 weights and uint8 activations), 1.5× margin.
        var error = MeanError(ModelZoo.Create("lenet300", seed: 3), model);
        Assert.True(error < 0.04, $"block-wise int4: mean error {error:E2} of the output scale");
    }

    [Fact]
    public void BlocksGroupConsecutiveWeightsAlongTheAxis()
    {
        // A [4, 2] weight, blocks of 2 along axis 0: scales [2, 2]; scale (b, n) covers rows 2b, 2b+1 of column n.
        var w = new[] { 1f, 10f, -7f, 20f, 0.5f, -70f, 0.3f, 35f };
        var (q, s) = WeightQuantizer.Quantize(w, new long[] { 4, 2 }, 0, true, 4, blockSize: 2);
        Assert.Equal(new[] { 1f, 20f / 7, 0.5f / 7, 10f }, s);
        Assert.Equal(new sbyte[] { 1, 4, -7, 7, 7, -7, 4, 4 }, q);
    }

    [Fact]
    public void WeightOnlyLeavesActivationsAndBiasesFloat()
    {
        var model = Quantize("lenet5", new QuantizationOptions { Activations = DataType.Float });
        Assert.DoesNotContain(model.Graph.Nodes, n => n.OpType == "QuantizeLinear");
        Assert.Equal(4, model.Graph.Nodes.Count(n => n.OpType == "DequantizeLinear"));
        Assert.Contains(model.Graph.Nodes, n => n.OpType == "Relu");
        // Gate: measured 2.79e-3 of the output scale (float kernels: the same on every CPU), 1.5× margin.
        var error = MeanError(ModelZoo.Create("lenet5", seed: 3), model);
        Assert.True(error < 4.2e-3, $"weight-only int8: mean error {error:E2} of the output scale");
    }

    [Fact]
    public void OpsetUpgradeMovesReductionAxesToAnInputAndKeepsOutputs()
    {
        var model = ModelZoo.Create("lenet5", seed: 1);
        var graph = model.Graph;
        // output ← output − ReduceMean(output, axes=[1], keepdims=1): a reduction whose axes are an attribute before opset 18.
        var y = graph.Outputs[0];
        var mean = new Node("ReduceMean", "", "mean");
        mean.AddInput(y);
        mean.Attributes.Add(Shrink.Ir.Attribute.Ints("axes", 1));
        var m = mean.AddOutput(new Value("mean_out", DataType.Float))!;
        graph.InsertAfter(y.Producer!, mean);
        var sub = new Node("Sub", "", "centre");
        sub.AddInput(y);
        sub.AddInput(m);
        var z = sub.AddOutput(new Value("centred", DataType.Float, y.Shape))!;
        graph.InsertAfter(mean, sub);
        graph.Outputs[0] = z;
        Assert.Null(OpsetUpgrade.Check(model, 21));
        var upgraded = model.Clone();
        OpsetUpgrade.To(upgraded, 21);
        var reduce = upgraded.Graph.FindNode("mean")!;
        Assert.Null(reduce.GetInts("axes"));
        Assert.Equal(new long[] { 1 }, reduce.Inputs[1]!.Const!.ToInt64s());
        Assert.Equal(21, upgraded.DefaultOpset);
        var data = FashionMnist.LoadEmbedded().Test.Take(8);
        var (x, _) = data.Batch(0, 8);
        Assert.Equal(Run(model, x, new long[] { 8, 1, 28, 28 }), Run(upgraded, x, new long[] { 8, 1, 28, 28 }));

        var group = new Node("GroupNormalization", "", "gn");
        upgraded.SetOpset("", 18);
        model.Graph.AddNode(group);
        Assert.Contains("GroupNormalization 'gn'", OpsetUpgrade.Check(model, 21));
    }
}
