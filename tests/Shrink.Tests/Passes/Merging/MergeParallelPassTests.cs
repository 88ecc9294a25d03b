using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Merging;
using Shrink.TestSupport;
using Xunit;

namespace Shrink.Tests.Passes.Merging;

/// <summary>merge-parallel: siblings reading one tensor into one wider layer and a Split; kept only when measured faster unless told always.</summary>
public class MergeParallelPassTests
{
    private static PassResult Run(Model model, ParallelKeep keep = ParallelKeep.Always, PassContext? context = null) =>
        new PassPipeline(new MergeParallelPass(new MergeParallelOptions { Keep = keep, Rounds = 4, RunsPerRound = 3 })) { VerifyEach = true }
            .Run(model, context ?? new PassContext());

    /// <summary>An inception block: three 1×1 branches and a 3×3 one on the same input, concatenated.</summary>
    private static Model Inception() => GraphStructure.Build("inception", new long[] { 8, 10, 10 }, (b, x) =>
        b.Concat(1, b.Relu(b.Conv(x, 4, 1)), b.Relu(b.Conv(x, 6, 1)), b.Relu(b.Conv(x, 2, 1)), b.Relu(b.Conv(x, 4, 3, padding: 1))));

    [Fact]
    public void InceptionPointwiseBranchesBecomeOneConvAndSplit()
    {
        var model = Inception();
        var result = Run(model);
        Assert.Equal(2, SameOutputs.Count(result.Model, "Conv"));  // the three 1×1 as one, the 3×3 alone
        var split = Assert.Single(result.Model.Graph.Nodes, n => n.OpType == "Split");
        Assert.Equal(new long[] { 4, 6, 2 }, split.Inputs[1]!.Const!.ToInt64s());
        var merge = Assert.Single(result.Artifact<LayerMerges>()!.Merges);
        Assert.Equal(3, merge.Layers.Count);
        Assert.Equal(merge.ParametersBefore, merge.ParametersAfter);
        SameOutputs.AssertClose(model, result.Model);
    }

    [Fact]
    public void QueryKeyValueProjectionsMerge()
    {
        // x [N, 6, 16] → Q, K, V = x·Wq + bq, … (MatMul and Add each, as torch exports Linear on a sequence); attention scores Q·Kᵀ, then ·V.
        var model = GraphStructure.Build("qkv", new long[] { 6, 16 }, (b, x) =>
        {
            Value Project(string name) => b.Add(b.MatMul(x, 16), b.Constant(name, Tensor.FromFloats(name, new long[] { 16 }, Enumerable.Range(0, 16).Select(i => 0.01f * i).ToArray())));
            var (q, k, v) = (Project("bq"), Project("bk"), Project("bv"));
            var kt = b.Op("Transpose", new[] { k }, Shrink.Ir.Attribute.Ints("perm", 0, 2, 1));
            return b.Op("MatMul", new[] { b.Softmax(b.Op("MatMul", new[] { q, kt })), v });
        });
        var result = Run(model);
        Assert.Equal(3, SameOutputs.Count(result.Model, "MatMul"));  // the projection, Q·Kᵀ and ·V
        Assert.Equal(1, SameOutputs.Count(result.Model, "Add"));
        Assert.Single(result.Model.Graph.Nodes, n => n.OpType == "Split");
        SameOutputs.AssertClose(model, result.Model);
    }

    [Fact]
    public void WhenFasterKeepsExactlyWhatTheMeasurementSays()
    {
        var model = Inception();
        var context = new PassContext();
        var result = Run(model, ParallelKeep.WhenFaster, context);
        var latency = result.Artifact<LayerMerges>()!.ParallelLatency;
        Assert.NotNull(latency);
        var faster = latency!.Contains("x faster at batch 1") && !latency.Contains("NOT");
        Assert.Equal(faster, result.Modified);
        Assert.Equal(faster ? 2 : 4, SameOutputs.Count(result.Model, "Conv"));
        if (!faster) Assert.Contains(context.Notes, n => n.StartsWith("parallel layers left alone") && n.Contains(latency));
        SameOutputs.AssertClose(model, result.Model);
    }

    [Theory]
    [InlineData("prune_googlenet")]
    [InlineData("quant_inception")]
    [InlineData("transformer_tiny")]
    [InlineData("squeezenet_tiny")]
    public void RealExportsKeepTheirOutputs(string name)
    {
        var model = OnnxReader.Read(TestModels.TorchPath(name));
        var result = Run(model);
        SameOutputs.AssertClose(model, result.Model);
        var merges = result.Artifact<LayerMerges>()!.Merges;
        Assert.Equal(merges.Count, SameOutputs.Count(result.Model, "Split") - SameOutputs.Count(model, "Split"));
    }
}
