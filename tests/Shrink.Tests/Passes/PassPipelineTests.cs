using Shrink.Ir;
using Shrink.Passes;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes;

public class PassPipelineTests
{
    /// <summary>A deliberately broken pass: rewires the first node to read a value nothing defines.</summary>
    private sealed class BreakingPass : IPass
    {
        public string Id => "break-graph";

        public PassResult Run(Model model, PassContext context)
        {
            model.Graph.Nodes[0].SetInput(0, new Value("nowhere"));
            return new PassResult(model, true, new Dictionary<string, long>());
        }
    }

    private sealed class RefusingPass : IPass
    {
        public string Id => "refuse";
        public string? CheckPreconditions(Model model) => "the model is not quantized";
        public PassResult Run(Model model, PassContext context) => throw new InvalidOperationException("must not run");
    }

    [Fact]
    public void VerifierNamesTheBreakingPassAndThoseBefore()
    {
        var pipeline = new PassPipeline(PassRegistry.Create("remove-unused"), new BreakingPass()) { VerifyEach = true };
        var e = Assert.Throws<PassFailedException>(() => pipeline.Run(ModelZoo.Create("lenet300"), new PassContext()));
        Assert.Contains("pass 'break-graph' failed (after remove-unused)", e.Message);
        Assert.Contains("dangling input", e.Message);
    }

    [Fact]
    public void PreconditionFailureStopsBeforeRunning()
    {
        var e = Assert.Throws<PassFailedException>(() => new PassPipeline(new RefusingPass()).Run(ModelZoo.Create("lenet300"), new PassContext()));
        Assert.Equal("pass 'refuse' failed: the model is not quantized", e.Message);
    }

    [Fact]
    public void UnknownPassIdListsKnownOnes()
    {
        var e = Assert.Throws<OptionsException>(() => PassRegistry.Create("prune-everything"));
        Assert.Contains("known passes: cluster-weights, convert-precision, factorize-lowrank, fold-batchnorm, fold-constants, gather-nbits, matmul-nbits, merge-consecutive, merge-parallel, prune-structured, prune-unstructured, quantize-dynamic, quantize-static, remove-unused, share-weights, unshare-initializers", e.Message);
    }

    [Fact]
    public void RegisteredPassesTakeTheirTypedOptions()
    {
        var pass = PassRegistry.Create("prune-unstructured", new Shrink.Passes.Pruning.UnstructuredPruneOptions { Sparsity = 0.5 });
        var result = new PassPipeline(pass).Run(ModelZoo.Create("lenet300"), new PassContext());

        var weights = result.Model.Graph.Initializers.Where(v => v.Name.EndsWith("weight")).SelectMany(v => v.Const!.AsFloats().ToArray()).ToArray();
        Assert.InRange(weights.Count(w => w == 0) / (double)weights.Length, 0.49, 0.51);
        Assert.Equal(typeof(Shrink.Passes.Pruning.StructuredPruneOptions), PassRegistry.OptionsType("prune-structured"));
        Assert.Null(PassRegistry.OptionsType("fold-batchnorm"));
        Assert.Contains("no default options", Assert.Throws<OptionsException>(() => PassRegistry.Create("prune-structured")).Message);
        Assert.Throws<ArgumentException>(() => PassRegistry.Create("cluster-weights", new Shrink.Passes.Factorization.LowRankOptions()));
        Assert.Throws<ArgumentException>(() => PassRegistry.Create("remove-unused", new object()));
    }
}
