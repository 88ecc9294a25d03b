using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Quantization;

/// <summary>BatchNorm folding against the unfolded model in ONNX Runtime: outputs equal within 1e-4 of their scale.</summary>
public class FoldBatchNormPassTests
{
    /// <summary>Gives every BatchNorm random statistics, so folding has something to get wrong.</summary>
    private static Model WithRandomStatistics(Model model, int seed)
    {
        var random = new Random(seed);
        foreach (var bn in model.Graph.Nodes.Where(n => n.OpType == "BatchNormalization"))
            for (var i = 1; i <= 4; i++)
            {
                var v = bn.Inputs[i]!;
                var values = v.Const!.AsFloats().ToArray().Select(_ => i == 4 ? 0.2f + (float)random.NextDouble() : (float)(random.NextDouble() * 2 - 1) * (i == 1 ? 2 : 1)).ToArray();
                v.Const = Tensor.FromFloats(v.Const.Name, v.Const.Dims, values);
            }
        return model;
    }

    [Theory]
    [InlineData("vgg-small")]
    [InlineData("resnet-small")]
    public void FoldedModelEqualsTheOriginal(string name)
    {
        var original = WithRandomStatistics(ModelZoo.Create(name, seed: 2), 5);
        var context = new PassContext();
        var result = new PassPipeline(new FoldBatchNormPass()) { VerifyEach = true }.Run(original, context);
        Assert.True(result.Modified);
        Assert.DoesNotContain(result.Model.Graph.Nodes, n => n.OpType == "BatchNormalization");
        Assert.Equal(original.Graph.Nodes.Count(n => n.OpType == "BatchNormalization"), result.Stats["fold-batchnorm.folded"]);

        using var a = OnnxRunner.FromModel(original, new RunnerOptions { Threads = 1 });
        using var b = OnnxRunner.FromModel(result.Model, new RunnerOptions { Threads = 1 });
        var inputs = a.RandomInputs(3, seed: 1);
        Parity.AssertClose((float[])a.Run(inputs)[0].Data, (float[])b.Run(inputs)[0].Data, name);
    }

    [Fact]
    public void ABatchNormWhoseInputIsReadTwiceIsLeftAlone()
    {
        var b = new Shrink.Builder.NetworkBuilder("twice", seed: 1);
        var x = b.Input("input", 3, 8, 8);
        var c = b.Conv(x, 4, 3, padding: 1);
        var y = b.Add(b.BatchNorm(c), c);
        b.Output(b.Linear(b.Flatten(y), 2));
        var context = new PassContext();
        var result = new FoldBatchNormPass().Run(b.Build(), context);
        Assert.False(result.Modified);
        Assert.Contains(context.Notes, n => n.Contains("also read elsewhere"));
    }
}
