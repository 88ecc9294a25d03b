using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Factorization;
using Shrink.Passes.Pruning;
using Shrink.Passes.Quantization;
using Shrink.Passes.Sharing;
using Shrink.Techniques;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes;

/// <summary>The passes' artifacts: what they say matches the model the pass wrote, and each reads back from its JSON unchanged.</summary>
public class PassArtifactTests
{
    /// <summary>Writes <paramref name="artifact"/>, reads it back and checks the second writing equals the first; returns the copy.</summary>
    private static T RoundTrip<T>(T artifact, string kind) where T : class, IArtifact
    {
        var json = Artifacts.ToJson(artifact);
        Assert.Contains($"\"kind\": \"{kind}\"", json);
        Assert.Contains("\"version\": 1", json);
        var back = Artifacts.FromJson<T>(json);
        Assert.Equal(json, Artifacts.ToJson(back));
        return back;
    }

    [Fact]
    public void PruningMasksAreTheZerosOfThePrunedModelAndPackIntoBits()
    {
        var result = new UnstructuredPrunePass(new UnstructuredPruneOptions { Sparsity = 0.75 }).Run(ModelZoo.Create("lenet300", seed: 1), new PassContext());
        var masks = result.Artifact<PruningMasks>()!;
        Assert.Equal(3, masks.Keep.Count);
        foreach (var (name, keep) in masks.Keep)
            Assert.Equal(result.Model.Graph.FindInitializer(name)!.Const!.AsFloats().ToArray().Select(v => v != 0), keep);
        var back = RoundTrip(masks, "pruning-masks");
        Assert.Equal(masks.Keep.Keys, back.Keep.Keys);
        foreach (var (name, keep) in masks.Keep) Assert.Equal(keep, back.Keep[name]);
        // 266,200 weights as bits in base64: about 45 kB, not the 1.5 MB of a list of booleans.
        Assert.InRange(Artifacts.ToJson(masks).Length, 44_000, 46_000);
    }

    [Theory]
    [InlineData("{\"keep\": {\"w\": {\"length\": 9, \"bits\": \"AQ==\"}}}", "1 bytes of bits for a length of 9")]
    [InlineData("{\"keep\": {\"w\": {\"length\": 3, \"bits\": \"not base64!\"}}}", "the bits are not base64")]
    public void DamagedMasksAreRefusedInOneLine(string json, string reason)
    {
        var e = Assert.Throws<ModelFormatException>(() => Artifacts.FromJson<PruningMasks>(json, "masks.json"));
        Assert.StartsWith("masks.json: not a valid artifact", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void KeptChannelsListTheChannelsLeftInEachCutGroup()
    {
        var result = new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.5, ChannelMultiple = 1 }).Run(ModelZoo.Create("lenet5", seed: 1), new PassContext());
        var kept = result.Artifact<KeptChannels>()!;
        Assert.False(kept.MaskOnly);
        var conv1 = kept.Groups["conv1"];
        Assert.Equal(20, conv1.Channels);
        Assert.Equal(10, conv1.Kept.Length);
        Assert.Equal(conv1.Kept.Order(), conv1.Kept);
        Assert.Equal(10, result.Model.Graph.FindNode("conv1")!.Inputs[1]!.Const!.Dims[0]);
        var back = RoundTrip(kept, "kept-channels");
        Assert.Equal(conv1.Kept, back["conv1"]);
    }

    [Fact]
    public void CodebooksHoldTheValuesTheClusteredWeightsTake()
    {
        var result = new ClusterPass(new ClusterOptions { Bits = 3 }).Run(ModelZoo.Create("lenet300", seed: 1), new PassContext());
        var codebooks = result.Artifact<Codebooks>()!;
        Assert.Equal(3, codebooks.Weights.Count);
        foreach (var (name, book) in codebooks.Weights)
        {
            Assert.Equal(3, book.Bits);
            Assert.InRange(book.Centroids.Length, 2, 8);
            var values = result.Model.Graph.FindInitializer(name)!.Const!.AsFloats().ToArray().Where(v => v != 0).Distinct();
            Assert.All(values, v => Assert.Contains(v, book.Centroids));
        }
        var back = RoundTrip(codebooks, "codebooks");
        Assert.Equal(codebooks.Weights["gemm1.weight"].Centroids, back.Weights["gemm1.weight"].Centroids); // floats survive JSON exactly
    }

    [Fact]
    public void RanksAreThoseOfTheFactorizedLayers()
    {
        var result = new LowRankPass(new LowRankOptions { Energy = null, Ratio = 0.25 }).Run(ModelZoo.Create("lenet300", seed: 1), new PassContext());
        var ranks = result.Artifact<FactorizationRanks>()!;
        Assert.Equal(new LayerRank(54, 300), ranks.Layers["gemm1"]); // ⌊0.25·784·300/1084⌋
        Assert.Equal(new long[] { 784, 54 }, result.Model.Graph.FindInitializer("gemm1.weight_lowrank_a")!.Const!.Dims);
        Assert.Equal(ranks.Layers, RoundTrip(ranks, "factorization-ranks").Layers);
    }

    [Fact]
    public void QuantizationParametersAreTheScalesAndZeroPointsInTheGraph()
    {
        var (model, pass, context) = PassContractTests.Subject("quantize-static");
        var result = pass.Run(model, context);
        var parameters = result.Artifact<QuantizationParameters>()!;
        var g = result.Model.Graph;
        var conv1 = parameters.Find("conv1.weight")!;
        Assert.Equal((DataType.Int8, 8, 0, 0), (conv1.Type, conv1.Bits, conv1.Axis, conv1.BlockSize));
        Assert.Equal(g.FindInitializer("conv1.weight_scale")!.Const!.AsFloats().ToArray(), conv1.Scales);
        Assert.Equal(new long[] { 20 }, conv1.ScaleShape);
        Assert.All(conv1.ZeroPoints, z => Assert.Equal(0, z));
        var bias = parameters.Find("conv1.bias", QuantizedRole.Bias)!;
        Assert.Equal(DataType.Int32, bias.Type);
        var input = parameters.Find("input", QuantizedRole.Activation)!;
        Assert.Equal(DataType.UInt8, input.Type);
        Assert.Equal(g.FindInitializer("input_scale")!.Const!.AsFloats()[0], input.Scales.Single());
        Assert.Equal(g.FindInitializer("input_zero_point")!.Const!.RawData[0], input.ZeroPoints.Single());
        var back = RoundTrip(parameters, "quantization-parameters");
        Assert.Equal(parameters.Tensors.Count, back.Tensors.Count);
        Assert.Equal(conv1.Scales, back.Find("conv1.weight")!.Scales);

        var quantizers = RoundTrip(result.Artifact<ActivationQuantizers>()!, "activation-quantizers");
        Assert.Contains(quantizers.Scales, a => a.RangeKey == "input" && a.ScaleName == "input_scale" && double.IsNegativeInfinity(a.Lower));
        Assert.Contains(quantizers.Scales, a => a.Lower == 0 && double.IsPositiveInfinity(a.Upper)); // a ReLU absorbed: bounds survive JSON
        var ranges = context.Artifact<ActivationRanges>()!;
        Assert.Equal(ranges.Ranges, RoundTrip(ranges, "activation-ranges").Ranges);
    }

    [Fact]
    public void DynamicQuantizationListsItsWeightsPerColumn()
    {
        var result = new QuantizeDynamicPass(new QuantizationOptions()).Run(ModelZoo.Create("lenet300", seed: 1), new PassContext());
        var parameters = RoundTrip(result.Artifact<QuantizationParameters>()!, "quantization-parameters");
        Assert.Equal(new[] { "gemm1.weight", "gemm2.weight", "gemm3.weight" }, parameters.Tensors.Select(t => t.Name));
        var gemm1 = parameters.Find("gemm1.weight")!;
        Assert.Equal(1, gemm1.Axis);
        Assert.Equal(new long[] { 300 }, gemm1.ScaleShape);
        Assert.Equal(result.Model.Graph.FindInitializer("gemm1.weight_scale")!.Const!.AsFloats().ToArray(), gemm1.Scales);
    }
}
