using Shrink.Onnx;
using Shrink.TestSupport;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>shrink merge: its report (merges, parameters, fidelity, latency), its refusals, and its saved recipe.</summary>
public class MergeCommandTests
{
    [Fact]
    public void MergesAFactorizedModelBackAndReportsIt()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        var f = CliRunner.Run("factorize", model, "--ratio", "0.2", "--bench-batch", "none", "--out", dir.File("f.onnx"));
        Assert.True(f.ExitCode == 0, f.Err);
        var r = CliRunner.Run("merge", dir.File("f.onnx"), "--only", "consecutive", "--force", "--bench-batch", "1", "--out", dir.File("m.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.Equal(2, root.GetProperty("merges").GetArrayLength());  // the two factorized layers, each pair back into one Gemm
        Assert.Equal(OnnxReader.Read(model).Graph.Nodes.Count(n => n.OpType == "Gemm"), OnnxReader.Read(dir.File("m.onnx")).Graph.Nodes.Count(n => n.OpType == "Gemm"));
        Assert.True(root.GetProperty("after").GetProperty("parameters").GetInt64() > root.GetProperty("before").GetProperty("parameters").GetInt64());
        var fidelity = root.GetProperty("after").GetProperty("fidelity")[0];
        Assert.True(fidelity.GetProperty("cosine").GetDouble() > 0.99999);
        Assert.Equal(1, root.GetProperty("after").GetProperty("comparison").GetArrayLength());

        var text = CliRunner.Run("merge", dir.File("f.onnx"), "--only", "consecutive", "--bench-batch", "none", "--out", dir.File("n.onnx"));
        Assert.True(text.ExitCode == 0, text.Err);
        Assert.Contains("not merged: 'gemm1_lowrank_a' then 'gemm1_lowrank_b'", text.Out);
        Assert.Contains("(--force merges it)", text.Out);
        Assert.Contains("merges 0 consecutive", text.Out);
    }

    [Fact]
    public void BadInputIsOneLineAndWritesNothing()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5");
        string[] Args(params string[] extra) => new[] { "merge", model, "--out", dir.File("bad.onnx") }.Concat(extra).ToArray();
        CliRunner.AssertBadInput(CliRunner.Run(Args("--only", "consecutive,diagonal")), "--only 'diagonal' is not a kind of merging");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--only", ",")), "--only names no kind of merging");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--tolerance", "1.5")), "--tolerance must be in [0, 1)");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--keep-parallel", "sometimes")), "--keep-parallel 'sometimes' must be faster or always");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--bench-batch", "0")), "--bench-batch '0' must be positive integers");
        CliRunner.AssertBadInput(CliRunner.Run("merge", dir.File("missing.onnx"), "--out", dir.File("bad.onnx")), "missing.onnx");
        Assert.False(File.Exists(dir.File("bad.onnx")));
    }

    /// <summary>--save-recipe writes merge as a one-stage recipe; running it makes the same model, bit for bit.</summary>
    [Fact]
    public void TheSavedRecipeMakesTheSameModel()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5");
        var args = new[] { "merge", model, "--keep-parallel", "always", "--tolerance", "0", "--bench-batch", "none", "--out", dir.File("m.onnx") };
        CliRunner.AssertRecipeReplays(dir, args, dir.File("m.onnx"), "merge");
    }
}
