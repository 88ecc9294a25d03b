using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Precision;
using Shrink.Runtime;
using Shrink.Stats;
using Shrink.TestSupport;
using Shrink.Tests.Passes.Merging;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Precision;

/// <summary>convert-precision: weights in float16/bfloat16, float32 kept at the edges and where ONNX Runtime's CPU provider has no half kernel.</summary>
public class HalfPrecisionPassTests
{
    private static PassResult Run(Model model, PrecisionOptions options, PassContext? context = null) =>
        new PassPipeline(new HalfPrecisionPass(options)) { VerifyEach = true }.Run(model, context ?? new PassContext());

    public static TheoryData<string> Models()
    {
        var data = new TheoryData<string>();
        foreach (var z in ModelZoo.Names) data.Add("zoo:" + z);
        foreach (var t in TestModels.TorchNames) data.Add(t);
        return data;
    }

    private static Model Load(string name) => name.StartsWith("zoo:") ? ModelZoo.Create(name[4..], seed: 1) : OnnxReader.Read(TestModels.TorchPath(name));

    /// <summary>
    /// float16 storage on every zoo model and real export: it loads in ONNX Runtime, its inputs and outputs stay float32, its
    /// weights take half the bytes, and its outputs stay within 1e-2 of their scale (weights rounded to 11 significant bits).
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void Float16StorageHalvesTheWeightsAndKeepsTheOutputs(string name)
    {
        var model = Load(name);
        var result = Run(model, new PrecisionOptions());
        var half = result.Model;
        Assert.DoesNotContain(half.Graph.Initializers, v => v.Const!.DataType == DataType.Float && v.Const.ElementCount >= 16 && v.Uses.Count > 0);
        using (var runner = OnnxRunner.FromModel(half))
            Assert.All(runner.Inputs.Concat(runner.Outputs).Where(s => s.ElementType != typeof(long)), s => Assert.Equal(typeof(float), s.ElementType));
        var (before, after) = (ModelStats.Compute(model), ModelStats.Compute(half));
        Assert.Equal(before.Parameters, after.Parameters);
        Assert.InRange((double)after.PackedBytes / before.PackedBytes, 0.45, 0.55);
        Assert.InRange(SameOutputs.Worst(model, half), 0, 1e-2);
    }

    [Fact]
    public void BFloat16StorageLoadsWithinItsWiderBand()
    {
        var model = ModelZoo.Create("lenet5", seed: 1);
        var result = Run(model, new PrecisionOptions { Format = HalfFormat.BFloat16 });
        Assert.Contains(result.Model.Graph.Initializers, v => v.Const!.DataType == DataType.BFloat16);
        var worst = SameOutputs.Worst(model, result.Model);
        Assert.InRange(worst, 1e-6, 5e-2);  // 8 significant bits: visibly off, still the same model
    }

    [Fact]
    public void Float16ComputeRunsWhatTheCpuProviderHasInHalfAndCastsTheRest()
    {
        var model = OnnxReader.Read(TestModels.TorchPath("resnet_tiny"));
        var context = new PassContext();
        var result = Run(model, new PrecisionOptions { Compute = true }, context);
        var half = result.Model;
        // Every Cast joins a half value and a float32 one; every half node's float inputs are half.
        var stats = result.Stats;
        Assert.Equal(stats["convert-precision.casts"], SameOutputs.Count(half, "Cast"));
        Assert.DoesNotContain(half.Graph.Nodes, n => n.OpType != "Cast" && n.Inputs.Any(v => HalfKernels.TypeOf(v) == DataType.Float16)
            && n.Inputs.Any(v => HalfKernels.TypeOf(v) == DataType.Float));
        Assert.True(stats["convert-precision.half-nodes"] + stats["convert-precision.float-nodes"] > 0);
        if (stats["convert-precision.float-nodes"] > 0) Assert.Contains(context.Notes, n => n.StartsWith("kept in float32"));
        using (var runner = OnnxRunner.FromModel(half))
            Assert.Equal(typeof(float), runner.Outputs[0].ElementType);
        Assert.InRange(SameOutputs.Worst(model, half), 0, 2e-2);
    }

    [Fact]
    public void HalfInputsAndOutputsWhenAsked()
    {
        // Whatever the CPU provider runs in half, the edges are half and the Casts are where the counter says.
        var model = GraphStructure.Build("edges", new long[] { 8 }, (b, x) => b.Relu(b.Add(b.Linear(x, 8), x)));
        var result = Run(model, new PrecisionOptions { Compute = true, KeepIoTypes = false });
        Assert.Equal(result.Stats["convert-precision.casts"], SameOutputs.Count(result.Model, "Cast"));
        Assert.Equal(DataType.Float16, result.Model.Graph.Outputs[0].ElementType);
        Assert.Equal(DataType.Float16, result.Model.Graph.Inputs[0].ElementType);
        using var runner = OnnxRunner.FromModel(result.Model);
        Assert.Equal(typeof(Microsoft.ML.OnnxRuntime.Float16), runner.Inputs[0].ElementType);
    }

    [Fact]
    public void FloatOpsStayFloatAndLargeWeightsAreClamped()
    {
        var model = GraphStructure.Build("ops", new long[] { 8 }, (b, x) => b.Relu(b.Linear(x, 16)));
        var w = model.Graph.FindInitializer("gemm1.weight")!;
        var values = w.Const!.AsFloats().ToArray();
        values[0] = 1e6f;
        w.Const = Tensor.FromFloats(w.Name, w.Const.Dims, values);
        var context = new PassContext();
        var result = Run(model, new PrecisionOptions { Compute = true, FloatOps = new HashSet<string> { "Relu" } }, context);
        Assert.Equal(1, result.Stats["convert-precision.clamped"]);
        Assert.Contains(context.Notes, n => n.Contains("clamped"));
        Assert.Contains(context.Notes, n => n.Contains("named to stay float32") && n.Contains("Relu ×1"));
        Assert.Contains(result.Model.Graph.Nodes, n => n.OpType == "Relu" && n.Inputs[0]!.ElementType == DataType.Float);
    }

    [Fact]
    public void HalfEdgesWithoutHalfComputeAreRefused()
    {
        var e = Assert.Throws<OptionsException>(() => new HalfPrecisionPass(new PrecisionOptions { KeepIoTypes = false }));
        Assert.Contains("keep io types", e.Message);
    }
}
