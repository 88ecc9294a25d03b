using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Runtime;
using Xunit;
using static Shrink.Tests.Passes.GraphStructure;

namespace Shrink.Tests.Passes.Pruning;

/// <summary>
/// BatchNorm constants that torch.onnx.export shares through Identity (equal initializers merged: torchvision's
/// resnet18 has three) no longer keep the residual stream they sit on from being cut.
/// </summary>
public class SharedBatchNormPruningTests
{
    /// <summary>
    /// A stem conv-BN-ReLU, then a residual sum of a 3×3 conv-BN and a 1×1 conv-BN (a downsample), ReLU, pool, fc; the
    /// second BN's bias is <c>Identity(first BN's bias)</c>, as the export of a trained resnet18 writes it.
    /// </summary>
    private static Model SharedBias()
    {
        var model = Build("stream", new long[] { 3, 6, 6 }, (b, x) =>
        {
            var stem = b.Relu(b.BatchNorm(b.Conv(x, 8, 3, padding: 1, bias: false)));
            var sum = b.Add(b.BatchNorm(b.Conv(stem, 8, 3, padding: 1, bias: false)), b.BatchNorm(b.Conv(stem, 8, 1, bias: false)));
            return b.Linear(b.Flatten(b.GlobalAveragePool(b.Relu(sum))), 4);
        });
        var g = model.Graph;
        var norms = g.Nodes.Where(n => n.OpType == "BatchNormalization").ToList();
        var bias = g.AddInitializer(Tensor.FromFloats("block.bn2.bias", new long[] { 8 }, Enumerable.Range(0, 8).Select(i => 0.1f * (i - 3)).ToArray()));
        norms[1].SetInput(2, bias);
        var shared = new Value("block.downsample.bias", DataType.Float, Shape.Of(8));
        g.InsertBefore(norms[2], new Node("Identity", name: "dedup").AddInput(bias)).AddOutput(shared);
        norms[2].SetInput(2, shared);
        g.RemoveUnusedInitializers();
        return model;
    }

    [Fact]
    public void StructuredPruningCutsTheStreamAndMatchesTheMaskedModel()
    {
        var context = new PassContext();
        var options = new StructuredPruneOptions { Sparsity = 0.5, ChannelMultiple = 1 };
        var result = new PassPipeline(new StructuredPrunePass(options)) { VerifyEach = true }.Run(SharedBias(), context);
        var masked = new StructuredPrunePass(options with { MaskOnly = true }).Run(SharedBias(), new PassContext()).Model;
        Assert.Equal(2, result.Artifact<KeptChannels>()!.Groups.Count); // the stem, and the residual sum with both its branches
        Assert.DoesNotContain(context.Notes, n => n.Contains("stream") || n.Contains("constant of its own")); // only the classifier is left alone
        Assert.All(result.Model.Graph.Initializers.Where(v => v.Name.StartsWith("block.")), v => Assert.Equal(new long[] { 4 }, v.Const!.Dims));

        using var a = OnnxRunner.FromModel(masked, new RunnerOptions { Threads = 1 });
        using var b = OnnxRunner.FromModel(result.Model, new RunnerOptions { Threads = 1 });
        var inputs = a.RandomInputs(3, seed: 1);
        Parity.AssertClose((float[])a.Run(inputs)[0].Data, (float[])b.Run(inputs)[0].Data, "cut vs masked");
    }
}
