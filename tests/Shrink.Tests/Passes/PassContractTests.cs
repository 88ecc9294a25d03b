using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Passes.Quantization;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes;

/// <summary>
/// What every pass promises: it never modifies the model it is given, the registry makes it from its id with
/// typed options, and its artifacts reach the passes after it.
/// </summary>
public class PassContractTests
{
    public static TheoryData<string> Ids => new(PassRegistry.Ids.Order());

    /// <summary>A model the pass changes, the pass (with options where it needs them) and its context (activation ranges for quantize-static).</summary>
    internal static (Model Model, IPass Pass, PassContext Context) Subject(string id)
    {
        var context = new PassContext();
        switch (id)
        {
            case "remove-unused":
                var m = ModelZoo.Create("lenet300", seed: 1);
                var dead = m.Graph.AddNode(new Node("Relu", "", "dead"));
                dead.AddInput(m.Graph.Inputs[0]);
                dead.AddOutput(new Value("dead_out"));
                return (m, PassRegistry.Create(id), context);
            case "fold-constants":
                return (OnnxReader.Read(TestModels.TorchPath("lenet_fmnist")), PassRegistry.Create(id), context);
            case "unshare-initializers":
                return (OnnxReader.Read(TestModels.TorchPath("prune_resnet")), PassRegistry.Create(id), context);
            case "gather-nbits":
                return (OnnxReader.Read(TestModels.TorchPath("encoder_small")), PassRegistry.Create(id), context);
            case "fold-batchnorm":
                return (ModelZoo.Create("vgg-small", seed: 1), PassRegistry.Create(id), context);
            case "quantize-static":
                var model = ModelZoo.Create("lenet5", seed: 1);
                var values = new QuantizeStaticPass(new QuantizationOptions()).Plan(model.Clone()).CalibrationValues;
                var ranges = Calibrator.Collect(model, values, CalibrationSet.From(FashionMnist.LoadEmbedded().Train, 32), CalibrationMethod.MinMax);
                return (model, PassRegistry.Create(id), context.Add(ActivationRanges.Of(ranges)));
            case "prune-unstructured":
                return (ModelZoo.Create("lenet5", seed: 1), PassRegistry.Create(id, new UnstructuredPruneOptions { Sparsity = 0.5 }), context);
            case "prune-structured":
                return (ModelZoo.Create("vgg-small", seed: 1), PassRegistry.Create(id, new StructuredPruneOptions { Sparsity = 0.5 }), context);
            case "merge-consecutive":
                var lowRank = new Shrink.Passes.Factorization.LowRankPass(new() { Energy = null, Ratio = 0.2 }).Run(ModelZoo.Create("lenet300", seed: 1), new PassContext()).Model;
                return (lowRank, PassRegistry.Create(id, new Shrink.Passes.Merging.MergeConsecutiveOptions { Force = true }), context);
            case "merge-parallel":
                return (OnnxReader.Read(TestModels.TorchPath("prune_googlenet")),
                    PassRegistry.Create(id, new Shrink.Passes.Merging.MergeParallelOptions { Keep = Shrink.Passes.Merging.ParallelKeep.Always }), context);
            case "share-weights":
                var tower = GraphStructure.Build("tower", new long[] { 16 }, (b, x) => b.Linear(b.Relu(b.Linear(x, 16)), 16));
                tower.Graph.FindInitializer("gemm2.weight")!.Const = tower.Graph.FindInitializer("gemm1.weight")!.Const!.Clone("gemm2.weight");
                return (tower, PassRegistry.Create(id), context);
            default: // quantize-dynamic, cluster-weights, factorize-lowrank: their defaults
                return (ModelZoo.Create("lenet5", seed: 1), PassRegistry.Create(id), context);
        }
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void RunLeavesTheInputBytesUnchanged(string id)
    {
        var (model, pass, context) = Subject(id);
        var before = OnnxWriter.ToBytes(model);
        var result = pass.Run(model, context);
        Assert.True(result.Modified, $"{id} changed nothing on its test model");
        Assert.NotSame(model, result.Model);
        Assert.Equal(before, OnnxWriter.ToBytes(model));
        Assert.NotEqual(before, OnnxWriter.ToBytes(result.Model));
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void AVerifyingPipelineLeavesTheInputBytesUnchanged(string id)
    {
        var (model, pass, context) = Subject(id);
        var before = OnnxWriter.ToBytes(model);
        var result = new PassPipeline(pass, new Shrink.Passes.Cleanup.RemoveUnusedPass()) { VerifyEach = true }.Run(model, context);
        Assert.Equal(before, OnnxWriter.ToBytes(model)); // verification's shape inference too runs on the pipeline's copy
        Assert.NotEqual(before, OnnxWriter.ToBytes(result.Model));
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void EveryIdMakesItsPass(string id)
    {
        var (_, pass, _) = Subject(id);
        Assert.Equal(id, pass.Id);
        Assert.Equal(id, PassRegistry.Create(id, Options(id)).Id);
    }

    [Fact]
    public void TheRegistryKnowsAllSixteenPasses()
    {
        Assert.Equal(new[] { "cluster-weights", "convert-precision", "factorize-lowrank", "fold-batchnorm", "fold-constants", "gather-nbits", "matmul-nbits", "merge-consecutive",
            "merge-parallel", "prune-structured", "prune-unstructured", "quantize-dynamic", "quantize-static", "remove-unused", "share-weights",
            "unshare-initializers" }, PassRegistry.Ids.Order());
        Assert.Equal(typeof(QuantizationOptions), PassRegistry.OptionsType("quantize-static"));
        Assert.Equal(typeof(MatMulNBitsOptions), PassRegistry.OptionsType("matmul-nbits"));
    }

    [Theory]
    [InlineData("prune-unstructured", "UnstructuredPruneOptions")]
    [InlineData("prune-structured", "StructuredPruneOptions")]
    public void APassWithoutRequiredOptionsRefusesInOneLine(string id, string options)
    {
        var e = Assert.Throws<OptionsException>(() => PassRegistry.Create(id));
        Assert.Equal($"pass '{id}' has no default options; give a {options} (for example its sparsity)", e.Message);
    }

    [Fact]
    public void StaticQuantizationWithoutRangesRefusesInOneLineAndWeightOnlyNeedsNone()
    {
        var model = ModelZoo.Create("lenet5", seed: 1);
        var e = Assert.Throws<OptionsException>(() => PassRegistry.Create("quantize-static").Run(model, new PassContext()));
        Assert.StartsWith("quantize-static needs the ranges of ", e.Message);
        Assert.Contains("ActivationRanges", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain("--", e.Message); // a library message names no CLI flag

        var weightOnly = PassRegistry.Create("quantize-static", new QuantizationOptions { Activations = DataType.Float }).Run(model, new PassContext());
        Assert.Contains(weightOnly.Model.Graph.Nodes, n => n.OpType == "DequantizeLinear");
        Assert.DoesNotContain(weightOnly.Model.Graph.Nodes, n => n.OpType == "QuantizeLinear");
    }

    [Fact]
    public void RangesFromTheContextQuantizeAsRangesGivenToThePass()
    {
        var (model, pass, context) = Subject("quantize-static");
        var ranges = context.Artifact<ActivationRanges>()!;
        var fromContext = OnnxWriter.ToBytes(pass.Run(model, context).Model);
        var fromConstructor = OnnxWriter.ToBytes(new QuantizeStaticPass(new QuantizationOptions(), ranges).Run(model, new PassContext()).Model);
        Assert.Equal(fromConstructor, fromContext);
        var missing = ActivationRanges.Of(ranges.ToPairs().Skip(1).ToDictionary(kv => kv.Key, kv => kv.Value));
        var e = Assert.Throws<OptionsException>(() => new QuantizeStaticPass(new QuantizationOptions(), missing).Run(model, new PassContext()));
        Assert.Equal($"no activation range for '{ranges.Ranges.Keys.First()}': the ranges were calibrated on another model", e.Message);
    }

    /// <summary>A pass that records the model it is handed and the artifacts it finds.</summary>
    private sealed class Recorder : Pass
    {
        public List<Model> Seen { get; } = new();
        public PruningMasks? Found { get; private set; }
        public override string Id => "record";

        protected internal override PassResult RunInPlace(Model model, PassContext context)
        {
            Seen.Add(model);
            Found = context.Artifact<PruningMasks>();
            return new PassResult(model, false, new Dictionary<string, long>());
        }
    }

    [Fact]
    public void APipelineCopiesOnceAndHandsEachPassTheArtifactsBeforeIt()
    {
        var model = ModelZoo.Create("lenet300", seed: 1);
        var first = new Recorder();
        var second = new Recorder();
        var prune = new UnstructuredPrunePass(new UnstructuredPruneOptions { Sparsity = 0.5 });
        var context = new PassContext();
        var result = new PassPipeline(first, prune, second).Run(model, context);
        Assert.NotSame(model, first.Seen.Single());
        Assert.Same(first.Seen.Single(), second.Seen.Single()); // one private copy for the whole pipeline
        Assert.Same(first.Seen.Single(), result.Model);
        Assert.Null(first.Found);
        Assert.Same(result.Artifact<PruningMasks>(), second.Found);
        Assert.Same(second.Found, context.Artifact<PruningMasks>());

        var alone = new Recorder();
        Assert.NotSame(model, alone.Run(model, new PassContext()).Model); // Run on its own copies
        Assert.NotSame(model, alone.Seen.Single());
    }

    private static object? Options(string id) => id switch
    {
        "prune-unstructured" => new UnstructuredPruneOptions { Sparsity = 0.25 },
        "prune-structured" => new StructuredPruneOptions { Sparsity = 0.25 },
        "quantize-dynamic" or "quantize-static" => new QuantizationOptions { PerChannel = false },
        "cluster-weights" => new Shrink.Passes.Sharing.ClusterOptions { Bits = 3 },
        "factorize-lowrank" => new Shrink.Passes.Factorization.LowRankOptions { Energy = 0.5 },
        _ => null,
    };
}
