using Shrink.Data;
using Shrink.Data.Sources;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Ops;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Runtime;
using Xunit;

namespace Shrink.Tests.Passes.Pruning;

/// <summary>
/// Structured pruning of transformer encoders: attention heads (Hugging Face's separate query/key/value layers in
/// encoder_small, made by tests/data/torch/make_encoder.py; torch's packed in_proj in the corpus's vit) and
/// feed-forward neurons are cut; the cut model equals the masked model in ONNX Runtime; the residual stream is left alone.
/// </summary>
public class TransformerPruningTests
{
    private const string Encoder = "encoder_small";

    private static Model LoadEncoder() => OnnxReader.Read(TestModels.TorchPath(Encoder));

    private static Model LoadVit() => OnnxReader.Read(Corpus.ModelPath("vit", "random"));

    private static IReadOnlyList<HostTensor> EncoderInputs() =>
        NpzSource.Open(TestModels.TorchFile(Encoder + ".npz")).Read(new[] { 0, 1 }).Inputs;

    private static IReadOnlyList<HostTensor> InputsFor(string model) => model == Encoder ? EncoderInputs() : new[] { Corpus.Input("vit", "random") };

    private static Model Load(string model) => model == Encoder ? LoadEncoder() : LoadVit();

    private static float[] Run(Model model, IReadOnlyList<HostTensor> inputs)
    {
        using var runner = OnnxRunner.FromModel(model);
        return (float[])runner.Run(inputs)[0].Data;
    }

    private static Model Prune(Model model, bool maskOnly, PassContext? context = null, PruneMethod method = PruneMethod.L1Filter) =>
        new StructuredPrunePass(new StructuredPruneOptions { Method = method, Sparsity = 0.5, MaskOnly = maskOnly }).Run(model, context ?? new PassContext()).Model;

    /// <summary>The export runs in ONNX Runtime as in PyTorch (the reference run make_encoder.py saved).</summary>
    [Fact]
    public void TheEncoderExportMatchesPyTorch()
    {
        var expected = NpyFile.Read(TestModels.TorchFile(Encoder + ".output.npy")).ToFloat32();
        Parity.AssertClose(expected, Run(LoadEncoder(), EncoderInputs()), "encoder_small in ONNX Runtime against PyTorch");
    }

    /// <summary>The check: the cut model computes what the masked model (pruned heads and neurons zeroed) computes, within 1e-4 of the output scale.</summary>
    [Theory]
    [InlineData(Encoder)]
    [InlineData("vit")]
    public void TheCutModelEqualsTheMaskedModel(string name)
    {
        var inputs = InputsFor(name);
        var masked = Run(Prune(Load(name), maskOnly: true), inputs);
        var cut = Run(Prune(Load(name), maskOnly: false), inputs);
        var scale = masked.Max(Math.Abs);
        var diff = masked.Zip(cut).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(diff <= 1e-4 * scale, $"{name}: cut and masked differ by {diff} (scale {scale})");
        Assert.NotEqual(Run(Load(name), inputs), masked); // the pruning did change the model
    }

    /// <summary>Half the heads (k·d columns of Q, K, V and rows of the output projection) and half the feed-forward neurons go; the residual width stays.</summary>
    [Fact]
    public void HalfTheHeadsAndNeuronsOfEachEncoderBlockGo()
    {
        var context = new PassContext();
        var result = new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.5 }).Run(LoadEncoder(), context);
        var g = result.Model.Graph;
        long[] Dims(string node) => g.FindNode(node)!.Inputs[1]!.Const!.Dims;
        foreach (var layer in new[] { "/layers.0", "/layers.1" })
        {
            foreach (var p in new[] { "query", "key", "value" }) Assert.Equal(new long[] { 64, 32 }, Dims($"{layer}/attention/{p}/MatMul"));
            Assert.Equal(new long[] { 32, 64 }, Dims($"{layer}/attention_output/MatMul"));
            Assert.Equal(new long[] { 64, 64 }, Dims($"{layer}/intermediate/MatMul"));
            Assert.Equal(new long[] { 64, 64 }, Dims($"{layer}/output/MatMul"));
        }
        Assert.Equal((8, 4), (result.Stats["heads"], result.Stats["heads-removed"]));
        var kept = result.Artifact<KeptChannels>()!;
        Assert.Equal(2, kept["/layers.0/attention"].Length);
        Assert.Equal(4, kept.Groups["/layers.0/attention"].Channels);
        var note = Assert.Single(context.Notes);
        Assert.StartsWith("left alone: 4 groups: " + ResidualStream.Reason, note);
    }

    /// <summary>torch's nn.MultiheadAttention: the packed in_proj loses the same heads in each of its three parts; the patch embedding only feeds the stream.</summary>
    [Fact]
    public void PackedInProjectionsLoseTheirHeadsInEachPart()
    {
        var context = new PassContext { Verbosity = NotesLevel.Detailed };
        var result = new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.5 }).Run(LoadVit(), context);
        var g = result.Model.Graph;
        const string block = "/encoder/layers/encoder_layer_0";
        Assert.Equal(new long[] { 48, 72 }, g.FindNode($"{block}/self_attention/MatMul")!.Inputs[1]!.Const!.Dims);
        Assert.Equal(new long[] { 48, 24 }, g.FindNode($"{block}/self_attention/Gemm")!.Inputs[1]!.Const!.Dims);
        Assert.Equal(new long[] { 48, 48 }, g.FindNode($"{block}/mlp/mlp.0/MatMul")!.Inputs[1]!.Const!.Dims);
        Assert.Contains($"left alone: /conv_proj/Conv: {ResidualStream.Reason}", context.Notes);
        Assert.Contains("left alone: /heads/head/Gemm: 'output' is a graph output", context.Notes);
    }

    /// <summary>The target: at sparsity 0.5 the attention and feed-forward MACs fall by at least 40 %.</summary>
    [Theory]
    [InlineData(Encoder)]
    [InlineData("vit")]
    public void AttentionAndFeedForwardMacsFallByFortyPercent(string name)
    {
        var tokens = name == Encoder ? 12 : 17;
        var before = BlockMacs(Load(name), tokens);
        var after = BlockMacs(Prune(Load(name), maskOnly: false), tokens);
        Assert.True(before > 0);
        Assert.True(1 - (double)after / before >= 0.40, $"{name}: {after:N0} of {before:N0} attention and feed-forward MACs left");
    }

    /// <summary>A Reshape whose head count Shrink cannot rewrite (here computed through a Cast) leaves its block alone, with the reason; the others are cut.</summary>
    [Fact]
    public void AnAttentionWhoseShapesCannotBeRewrittenIsLeftAlone()
    {
        var model = LoadEncoder();
        var reshape = model.Graph.FindNode("/layers.0/attention/Reshape")!;
        var cast = new Node("Cast", name: "/layers.0/attention/opaque_shape");
        cast.SetAttribute(Shrink.Ir.Attribute.Int("to", 7)); // int64
        cast.AddInput(reshape.Inputs[1]);
        var target = cast.AddOutput(new Value("opaque_shape", DataType.Int64))!;
        model.Graph.InsertBefore(reshape, cast);
        reshape.SetInput(1, target);
        var context = new PassContext();
        var result = new StructuredPrunePass(new StructuredPruneOptions { Sparsity = 0.5 }).Run(model, context);
        Assert.Contains("left alone: /layers.0/attention: the target of '/layers.0/attention/Reshape' is computed by Cast, which Shrink cannot rewrite", context.Notes);
        Assert.Equal(new long[] { 64, 64 }, result.Model.Graph.FindNode("/layers.0/attention/query/MatMul")!.Inputs[1]!.Const!.Dims);
        Assert.Equal(new long[] { 64, 32 }, result.Model.Graph.FindNode("/layers.1/attention/query/MatMul")!.Inputs[1]!.Const!.Dims);
        var inputs = EncoderInputs();
        var masked = Run(Prune(model, maskOnly: true), inputs);
        Parity.AssertClose(masked, Run(result.Model, inputs), "the cut against the masked model");
    }

    /// <summary>l1-filter keeps the heads whose Q, K, V and output weights weigh most; the BatchNorm criteria have nothing to read in attention.</summary>
    [Fact]
    public void HeadsAreRankedByTheNormOfTheirWeights()
    {
        var model = LoadEncoder();
        var (blocks, refused) = AttentionHeads.Find(model);
        Assert.Empty(refused);
        var block = blocks[0];
        Assert.Equal(("/layers.0/attention", 4, 16, false), (block.Name, block.Heads, block.HeadSize, block.Packed));
        // Head 3's output rows scaled up: it must be among the kept ones; head 0's zeroed: it must go.
        var w = block.OutputWeight.Const!;
        var values = w.AsFloats().ToArray();
        for (var i = 0; i < values.Length; i++)
            values[i] *= (i / 64 / 16) switch { 3 => 10f, 0 => 0f, _ => 1f };
        block.OutputWeight.Const = Tensor.FromFloats(w.Name, w.Dims, values);
        var scores = HeadPruning.Score(block, new StructuredPruneOptions { Sparsity = 0.5 })!;
        Assert.Equal(3, Array.IndexOf(scores, scores.Max()));
        Assert.Equal(0, Array.IndexOf(scores, scores.Min()));
        Assert.Null(HeadPruning.Score(block, new StructuredPruneOptions { Method = PruneMethod.BnScale, Sparsity = 0.5 }));
        var context = new PassContext();
        Prune(LoadEncoder(), maskOnly: false, context, PruneMethod.BnScale);
        Assert.Contains(context.Notes, n => n.StartsWith("left alone: 2 groups: bn-scale reads BatchNorm scales, which an attention block has none of"));
    }

    /// <summary>
    /// Attention and feed-forward MACs per sample of <paramref name="tokens"/> tokens: every projection and feed-forward
    /// layer (MatMul or Gemm with a constant weight; not the classifier) makes tokens · |W|, and every attention block
    /// 2 · tokens² · H·d in its Q·Kᵀ and its product with V.
    /// </summary>
    internal static long BlockMacs(Model model, int tokens)
    {
        var layers = model.Graph.Nodes.Where(n => n.OpType is "MatMul" or "Gemm" && !n.Name.StartsWith("/heads/") && n.Inputs[1]?.Const is { } w)
            .Sum(n => tokens * n.Inputs[1]!.Const!.ElementCount);
        return layers + AttentionHeads.Find(model).Blocks.Sum(b => 2L * tokens * tokens * b.Width);
    }
}
