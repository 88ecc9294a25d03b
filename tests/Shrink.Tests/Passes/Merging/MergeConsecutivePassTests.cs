using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Factorization;
using Shrink.Passes.Merging;
using Shrink.Passes.Quantization;
using Shrink.Stats;
using Shrink.TestSupport;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Merging;

/// <summary>merge-consecutive: linear pairs into one layer, outputs equal within 1e-5 of their scale, and pairs that would grow left alone.</summary>
public class MergeConsecutivePassTests
{
    private static PassResult Run(Model model, bool force = false, PassContext? context = null) =>
        new PassPipeline(new MergeConsecutivePass(new MergeConsecutiveOptions { Force = force })) { VerifyEach = true }.Run(model, context ?? new PassContext());

    [Fact]
    public void GemmChainCollapsesToOneGemm()
    {
        // 64 → 16 → 16 → 10 with no activation: the first pair has 64·16+16 + 16·16+16 > 64·16+16, so all three fold into one [64, 10].
        var model = GraphStructure.Build("gemms", new long[] { 64 }, (b, x) => b.Linear(b.Linear(b.Linear(x, 16), 16), 10));
        var result = Run(model);
        Assert.Equal(1, SameOutputs.Count(result.Model, "Gemm"));
        Assert.Equal(2, result.Stats["merge-consecutive.merged"]);
        Assert.Equal(new long[] { 64, 10 }, result.Model.Graph.Nodes.Single().Inputs[1]!.Const!.Dims);
        SameOutputs.AssertClose(model, result.Model);
        Assert.Equal("output", result.Model.Graph.Outputs[0].Name);
    }

    [Fact]
    public void MatMulPairWithBiasAddsMerges()
    {
        // x [N, 4, 32] · W1 [32, 8] + b1 → · W2 [8, 8] + b2: the torch export of two Linear layers on a sequence.
        var model = GraphStructure.Build("matmuls", new long[] { 4, 32 }, (b, x) =>
        {
            var h = b.Add(b.MatMul(x, 8), b.Constant("b1", Tensor.FromFloats("b1", new long[] { 8 }, Enumerable.Range(0, 8).Select(i => 0.1f * i).ToArray())));
            return b.Add(b.MatMul(h, 8), b.Constant("b2", Tensor.FromFloats("b2", new long[] { 8 }, Enumerable.Range(0, 8).Select(i => -0.05f * i).ToArray())));
        });
        var result = Run(model);
        Assert.Equal(1, SameOutputs.Count(result.Model, "MatMul"));
        Assert.Equal(1, SameOutputs.Count(result.Model, "Add"));
        SameOutputs.AssertClose(model, result.Model);
    }

    [Fact]
    public void ConvThenPointwiseConvAndPerChannelScaleFold()
    {
        // conv 3×3 (3 → 16) → conv 1×1 (16 → 8) → Mul by [8,1,1] → Add [1,8,1,1]: one conv [8, 3, 3, 3].
        var model = GraphStructure.Build("convs", new long[] { 3, 12, 12 }, (b, x) =>
        {
            var y = b.Conv(b.Conv(x, 16, 3, padding: 1), 8, 1);
            var scale = b.Constant("scale", Tensor.FromFloats("scale", new long[] { 8, 1, 1 }, Enumerable.Range(0, 8).Select(i => 0.5f + i).ToArray()));
            var shift = b.Constant("shift", Tensor.FromFloats("shift", new long[] { 1, 8, 1, 1 }, Enumerable.Range(0, 8).Select(i => i - 4f).ToArray()));
            return b.Relu(b.Add(b.Op("Mul", new[] { y, scale }), shift));
        });
        var result = Run(model);
        var conv = Assert.Single(result.Model.Graph.Nodes, n => n.OpType == "Conv");
        Assert.Equal(new long[] { 8, 3, 3, 3 }, conv.Inputs[1]!.Const!.Dims);
        Assert.Equal(new[] { "Conv", "Relu" }, result.Model.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal(3, result.Stats["merge-consecutive.merged"]);
        SameOutputs.AssertClose(model, result.Model);
    }

    [Fact]
    public void NonlinearityOrSecondReaderStopsTheMerge()
    {
        var model = GraphStructure.Build("stops", new long[] { 32 }, (b, x) =>
        {
            var h = b.Linear(x, 8);
            return b.Add(b.Linear(b.Relu(h), 8), b.Linear(h, 8));  // h read twice; the Relu between the first pair
        });
        var result = Run(model);
        Assert.False(result.Modified);
        Assert.Equal(3, SameOutputs.Count(result.Model, "Gemm"));
    }

    [Fact]
    public void LargerMergesNeedForce()
    {
        // A low-rank pair is smaller than its product; merging it back is what Force is for.
        var model = ModelZoo.Create("lenet300", seed: 2);
        var factorized = new LowRankPass(new LowRankOptions { Energy = null, Ratio = 0.2 }).Run(model, new PassContext()).Model;
        var context = new PassContext();
        var kept = Run(factorized, context: context);
        Assert.False(kept.Modified);
        Assert.Contains(context.Notes, n => n.Contains("would have") && n.Contains("(force merges it)"));
        var forced = Run(factorized, force: true);
        Assert.Equal(SameOutputs.Count(model, "Gemm"), SameOutputs.Count(forced.Model, "Gemm"));
        Assert.True(ModelStats.Compute(forced.Model).Parameters > ModelStats.Compute(factorized).Parameters);
        SameOutputs.AssertClose(factorized, forced.Model);
    }

    [Fact]
    public void DepthwiseThenPointwiseMergesOnlyWhenForced()
    {
        var model = GraphStructure.Build("separable", new long[] { 8, 10, 10 }, (b, x) => b.Conv(b.Conv(x, 8, 3, padding: 1, group: 8), 16, 1));
        Assert.False(Run(model).Modified);  // 8·9+8 + 16·8+16 = 224 < 16·8·9+16 = 1168
        var forced = Run(model, force: true);
        var conv = Assert.Single(forced.Model.Graph.Nodes);
        Assert.Equal(new long[] { 16, 8, 3, 3 }, conv.Inputs[1]!.Const!.Dims);
        Assert.Equal(1, conv.GetInt("group", 1));
        SameOutputs.AssertClose(model, forced.Model);
    }

    public static TheoryData<string> Models()
    {
        var data = new TheoryData<string>();
        foreach (var z in ModelZoo.Names) data.Add("zoo:" + z);
        foreach (var t in TestModels.TorchNames) data.Add(t);
        return data;
    }

    /// <summary>Every zoo model and real export: after BatchNorm folding and merging (forced), outputs within 1e-5 of their scale.</summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void OutputsAreKeptOnEveryModel(string name)
    {
        var model = name.StartsWith("zoo:") ? ModelZoo.Create(name[4..], seed: 1) : OnnxReader.Read(TestModels.TorchPath(name));
        var folded = new FoldBatchNormPass().Run(model, new PassContext()).Model;
        var merged = Run(folded, force: true).Model;
        SameOutputs.AssertClose(model, merged);
    }
}
