using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>The factorize command: its report, its refusals, and its saved recipe.</summary>
[Collection("torch")] // they fine-tune: they must not move the generator under the bit-exact resume tests
public class FactorizeCommandTests
{
    [Fact]
    public void CommandReportsAndRejectsBadOptions()
    {
        using var dir = new TempDirectory();
        CliRunner.Zoo(dir, "lenet300", "m.onnx");
        var r = CliRunner.Run("factorize", dir.File("m.onnx"), "--ratio", "0.3", "--finetune-epochs", "1", "--data", "embedded", "--bench-batch", "none",
            "--out", dir.File("f.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Out);
        Assert.True(doc.RootElement.GetProperty("after").GetProperty("parameters").GetInt64() < doc.RootElement.GetProperty("before").GetProperty("parameters").GetInt64() / 2);
        Assert.Equal(2, doc.RootElement.GetProperty("layers").GetArrayLength()); // gemm3, the classifier, is left alone
        Assert.Contains(doc.RootElement.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("'gemm3' left alone: it produces a graph output"));
        string[] Args(params string[] extra) => new[] { "factorize", dir.File("m.onnx"), "--out", dir.File("bad.onnx") }.Concat(extra).ToArray();
        CliRunner.AssertBadInput(CliRunner.Run(Args("--energy", "1.5")), "--energy must be in (0, 1]");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--energy", "0.9", "--ratio", "0.5")), "give one of --energy and --ratio");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--layers", "nosuch")), "'nosuch', not a layer");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--energy", "1")), "no layer was factorized");
        Assert.False(File.Exists(dir.File("bad.onnx")));
    }

    /// <summary>--save-recipe writes factorize as a one-stage recipe; running it makes the same model, bit for bit, with its fine-tuning.</summary>
    [Fact]
    public void TheSavedRecipeMakesTheSameModel()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        var args = new[] { "factorize", model, "--ratio", "0.5", "--data", "embedded", "--finetune-epochs", "1", "--bench-batch", "none", "--out", dir.File("f.onnx") };
        var dry = CliRunner.Run(args.Append("--dry-run").ToArray());
        Assert.True(dry.ExitCode == 0, dry.Err);
        Assert.Contains("factorize", dry.Out + dry.Err);
        CliRunner.AssertRecipeReplays(dir, args, dir.File("f.onnx"), "factorize");
    }
}
