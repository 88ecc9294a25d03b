using System.Text.RegularExpressions;
using Shrink.Onnx;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary><c>shrink prune --sparsity 0.5</c> on transformer encoders: heads and feed-forward neurons cut, the residual stream left alone in one line.</summary>
[Collection("torch")]
public class TransformerPruneCliTests
{
    [Fact]
    public void TheEncoderLosesHalfItsHeadsAndNeurons()
    {
        using var dir = new TempDirectory();
        var r = CliRunner.Run("prune", TestModels.TorchPath("encoder_small"), "--method", "l1-filter", "--sparsity", "0.5", "--dim", "sequence=12",
            "--bench-batch", "none", "--out", dir.File("p.onnx"));
        Assert.True(r.ExitCode == 0, r.Err);
        var text = Words(r.Out);
        Assert.Contains("note: left alone: 4 groups: it writes the residual stream of a transformer, normalised by LayerNormalization: the embedding width is left alone (e.g. /layers.0/attention_output/MatMul", text);
        Assert.Contains("l1-filter pruning removed channels: 75,028 → 42,452 parameters", text);
        var model = OnnxReader.Read(dir.File("p.onnx"));
        Assert.Equal(new long[] { 64, 32 }, model.Graph.FindNode("/layers.1/attention/value/MatMul")!.Inputs[1]!.Const!.Dims);
        Assert.Equal(new long[] { 64, 64 }, model.Graph.FindNode("/layers.1/intermediate/MatMul")!.Inputs[1]!.Const!.Dims);
    }

    /// <summary>The vision transformer was refused before ("no channel group could be pruned"); now its heads and MLPs are cut and the patch embedding is named as part of the stream.</summary>
    [Fact]
    public void TheVisionTransformerIsPrunedAndItsPatchEmbeddingLeftAlone()
    {
        using var dir = new TempDirectory();
        var r = CliRunner.Run("prune", Corpus.ModelPath("vit", "random"), "--method", "l1-filter", "--sparsity", "0.5", "--bench-batch", "none", "--verbosity", "detailed", "--out", dir.File("v.onnx"));
        Assert.True(r.ExitCode == 0, r.Err);
        var text = Words(r.Out);
        Assert.Contains("note: left alone: /conv_proj/Conv: it writes the residual stream of a transformer", text);
        Assert.DoesNotContain("self_attention/MatMul:", text); // the in_proj is pruned by heads, not listed by channel
        Assert.Contains("47,970 → 29,970 parameters", text);
    }

    /// <summary>The output with the console's line wrapping undone.</summary>
    private static string Words(string output) => Regex.Replace(output, @"\s+", " ");
}
