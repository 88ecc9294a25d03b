using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Runtime;
using Shrink.Stats;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Pruning;

/// <summary>Physical channel removal against the masked model, in ONNX Runtime: outputs equal within 1e-4 of their scale.</summary>
public class StructuredPrunePassTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var zoo in ModelZoo.Names)
            foreach (var method in StructuredPruneOptions.Methods)
                if (method != "bn-scale" || zoo is "vgg-small" or "resnet-small") data.Add(zoo, method);
        foreach (var torch in new[] { "resnet_tiny", "mobilenet_tiny", "squeezenet_tiny", "shufflenet_tiny", "lenet_fmnist" })
            data.Add(torch, "l1-filter");
        return data;
    }

    private static Model Load(string name) => ModelZoo.Names.Contains(name) ? ModelZoo.Create(name, seed: 4) : OnnxReader.Read(TestModels.TorchPath(name));

    [Theory]
    [MemberData(nameof(Cases))]
    public void RemovedModelEqualsTheMaskedModel(string name, string method)
    {
        var masked = Load(name);
        var removed = Load(name);
        var maskPass = new StructuredPrunePass(new StructuredPruneOptions { Method = method, Sparsity = 0.5, MaskOnly = true });
        var removePass = new StructuredPrunePass(new StructuredPruneOptions { Method = method, Sparsity = 0.5 });
        maskPass.Run(masked, new PassContext());
        var context = new PassContext();
        var result = new PassPipeline(removePass) { VerifyEach = true }.Run(removed, context);
        Assert.Equal(maskPass.Kept.Keys.Order(), removePass.Kept.Keys.Order());
        Assert.True(result.Modified, string.Join("; ", context.Notes));

        using var a = OnnxRunner.FromModel(masked, new RunnerOptions { Threads = 1 });
        using var b = OnnxRunner.FromModel(removed, new RunnerOptions { Threads = 1 });
        var inputs = name.Contains('_') ? new[] { new HostTensor(a.Inputs[0].Name, TestModels.TorchArray(name, "input").Data, TestModels.TorchArray(name, "input").Shape) }
            : a.RandomInputs(3, seed: 1);
        var expected = (float[])a.Run(inputs)[0].Data;
        var actual = (float[])b.Run(inputs)[0].Data;
        Shrink.Tests.Training.ExecutorParityTests.AssertClose(expected, actual, $"{name} {method}");

        var before = ModelStats.Compute(Load(name));
        var after = ModelStats.Compute(removed);
        Assert.True(after.Parameters < before.Parameters);
        Assert.True(after.Macs < before.Macs);
    }

    [Fact]
    public void ResidualGroupsArePrunedTogetherAndBlockedGroupsAreReported()
    {
        var groups = ChannelGroups.Find(ModelZoo.Create("resnet-small"));
        // The three stages' residual streams tie the stem, every block's second conv and the projections.
        var stream = groups.Where(g => g.Producers.Count > 1).ToList();
        Assert.Equal(3, stream.Count);
        Assert.All(stream, g => Assert.Null(g.Blocker));
        Assert.Equal(new long[] { 16, 32, 64 }, stream.Select(g => g.Channels).Order());

        var context = new PassContext();
        new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.5 }).Run(OnnxReader.Read(TestModels.TorchPath("squeezenet_tiny")), context);
        Assert.Contains(context.Notes, n => n.StartsWith("left alone: ") && n.Contains("Concat"));
        var output = ChannelGroups.Find(ModelZoo.Create("lenet300")).Single(g => g.Blocker is not null);
        Assert.Contains("graph output", output.Blocker);
    }

    [Fact]
    public void KeptChannelCountsAreRoundedUpToTheMultiple()
    {
        var pass = new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.35 });
        pass.Run(ModelZoo.Create("vgg-small"), new PassContext());
        // 32, 64, 128 and 256 channels keep 21, 42, 83 and 166 before rounding.
        Assert.Equal(new[] { 24, 24, 48, 48, 88, 88, 168 }, pass.Kept.Values.Select(k => k.Length).Order());
        var exact = new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.35, ChannelMultiple = 1 });
        exact.Run(ModelZoo.Create("vgg-small"), new PassContext());
        Assert.Equal(new[] { 21, 21, 42, 42, 83, 83, 166 }, exact.Kept.Values.Select(k => k.Length).Order());
    }

    [Fact]
    public void SparsityOutOfRangeAndUnknownMethodsAreRefused()
    {
        Assert.Throws<OptionsException>(() => new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 1 }));
        Assert.Contains("unknown structured method", Assert.Throws<OptionsException>(() => new StructuredPrunePass(new StructuredPruneOptions { Method = "apoz", Sparsity = 0.5 })).Message);
    }
}
