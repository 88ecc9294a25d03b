using Shrink.Onnx;
using Shrink.Runtime;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>The cluster → pack → unpack commands.</summary>
[Collection("torch")]
public class ClusterCommandTests
{
    [Fact]
    public void ClusterPackUnpackFromTheCommandLine()
    {
        using var dir = new TempDirectory();
        CliRunner.Zoo(dir, "lenet300", "m.onnx");
        Assert.Equal(0, CliRunner.Run("prune", dir.File("m.onnx"), "--sparsity", "0.9", "--scope", "global", "--out", dir.File("p.onnx")).ExitCode);
        var c = CliRunner.Run("cluster", dir.File("p.onnx"), "--bits", "4", "--finetune-epochs", "1", "--data", "embedded", "--out", dir.File("c.onnx"), "--json");
        Assert.True(c.ExitCode == 0, c.Err);
        using (var doc = System.Text.Json.JsonDocument.Parse(c.Out))
        {
            Assert.NotEqual(0, doc.RootElement.GetProperty("layers").GetArrayLength());
            Assert.All(doc.RootElement.GetProperty("layers").EnumerateArray(), l => Assert.InRange(l.GetProperty("sharedValues").GetInt32(), 2, 16));
        }
        var clustered = OnnxReader.Read(dir.File("c.onnx"));
        Assert.NotEmpty(Shrink.Passes.Pruning.PrunableWeights.Find(clustered));
        Assert.All(Shrink.Passes.Pruning.PrunableWeights.Find(clustered), w => Assert.InRange(w.Tensor.AsFloats().ToArray().Count(v => v == 0) / (double)w.Tensor.ElementCount, 0.05, 1));
        var pk = CliRunner.Run("pack", dir.File("c.onnx"), "--data", "embedded", "--out", dir.File("m.shrink"), "--json");
        Assert.True(pk.ExitCode == 0, pk.Err);
        using (var doc = System.Text.Json.JsonDocument.Parse(pk.Out))
        {
            var root = doc.RootElement;
            Assert.True(root.GetProperty("prunedBytes").GetInt64() > root.GetProperty("clusteredBytes").GetInt64());
            Assert.Equal(new FileInfo(dir.File("m.shrink")).Length, root.GetProperty("containerBytes").GetInt64());
            Assert.True(root.GetProperty("referenceBytes").GetInt64() / (double)root.GetProperty("containerBytes").GetInt64() > 25);
        }
        Assert.Equal(0, CliRunner.Run("unpack", dir.File("m.shrink"), "--out", dir.File("u.onnx")).ExitCode);
        using var a = OnnxRunner.FromModel(clustered);
        using var b = OnnxRunner.Load(dir.File("u.onnx"));
        var inputs = a.RandomInputs(3, seed: 1);
        Assert.Equal((float[])a.Run(inputs)[0].Data, (float[])b.Run(inputs)[0].Data);

        var bytes = File.ReadAllBytes(dir.File("m.shrink"));
        bytes[^3] ^= 1;
        File.WriteAllBytes(dir.File("bad.shrink"), bytes);
        CliRunner.AssertBadInput(CliRunner.Run("unpack", dir.File("bad.shrink"), "--out", dir.File("u2.onnx")), "CRC mismatch");
        CliRunner.AssertBadInput(CliRunner.Run("pack", dir.File("m.onnx"), "--out", dir.File("x.shrink")), "no clustered weights");
        CliRunner.AssertBadInput(CliRunner.Run("cluster", dir.File("m.onnx"), "--bits", "9", "--out", dir.File("x.onnx")), "--bits 9 is out of range");
        Assert.False(File.Exists(dir.File("u2.onnx")) || File.Exists(dir.File("x.shrink")) || File.Exists(dir.File("x.onnx")));
    }
}

/// <summary><c>shrink cluster --save-recipe</c>: the command as a one-stage recipe that replays to the same model.</summary>
[Collection("torch")] // it fine-tunes: it must not move the generator under the bit-exact resume tests
public class ClusterRecipeTests
{
    [Fact]
    public void TheSavedRecipeMakesTheSameModel()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        var args = new[] { "cluster", model, "--bits", "4", "--data", "embedded", "--finetune-epochs", "1", "--out", dir.File("c.onnx") };
        CliRunner.AssertRecipeReplays(dir, args, dir.File("c.onnx"), "cluster");
    }
}
