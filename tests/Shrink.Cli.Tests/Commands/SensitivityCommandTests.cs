using System.Text.Json;
using Shrink.Ir;
using Shrink.Passes.Pruning;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

public class SensitivityCliTests
{
    [Fact]
    public void WritesJsonPlotAndALayerConfigThatPruneAccepts()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var r = CliRunner.Run("sensitivity", model, "--data", "embedded", "--limit", "200", "--sparsities", "0.5,0.9", "--max-drop", "100",
            "--out", dir.File("s"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(File.ReadAllText(dir.File("s/sensitivity.json")));
        var layers = doc.RootElement.GetProperty("layers");
        Assert.Equal(4, layers.GetArrayLength());
        Assert.All(layers.EnumerateArray(), l => Assert.Equal(2, l.GetProperty("points").GetArrayLength()));
        var png = File.ReadAllBytes(dir.File("s/sensitivity.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        // With a 100-point allowance every layer may take the highest sparsity tried.
        var suggested = JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(dir.File("s/layers.json")))!;
        Assert.Equal(new[] { "conv1", "conv2", "gemm1", "gemm2" }, suggested.Keys.Order());
        Assert.All(suggested.Values, v => Assert.Equal(0.9, v));
        var pruned = CliRunner.Run("prune", model, "--layers", dir.File("s/layers.json"), "--bench-batch", "none", "--out", dir.File("p.onnx"), "--json");
        Assert.True(pruned.ExitCode == 0, pruned.Err);
    }

    [Fact]
    public void RendersTheTableTheSuggestionAndTheFiles()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5", "m.onnx");
        var r = CliRunner.Run("sensitivity", model, "--data", "embedded", "--limit", "100", "--sparsities", "0.5", "--max-drop", "100", "--out", dir.File("s"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("dense accuracy", r.Out);
        Assert.Contains("on 100 test images", r.Out);
        Assert.Contains("within 100 point(s): conv1 50 %, conv2 50 %, gemm1 50 %, gemm2 50 %", r.Out);
        Assert.Contains($"use: shrink prune MODEL --layers {dir.File("s/layers.json")}", r.Out.Replace("\n", "")); // the console wraps at 120 columns
        Assert.Contains("conv1 at 50 %: ", r.Err);
        using var doc = JsonDocument.Parse(File.ReadAllText(dir.File("s/sensitivity.json")));
        Assert.Equal("sensitivity", doc.RootElement.GetProperty("kind").GetString());
        Assert.Equal("magnitude", doc.RootElement.GetProperty("method").GetString());
    }

    [Theory]
    [InlineData("--sparsities", "0.5,1.0", "must be in [0, 1)")]
    [InlineData("--sparsities", "half", "is not a number")]
    [InlineData("--method", "taylor", "magnitude or random")]
    [InlineData("--max-drop", "-1", "--max-drop must be in [0, 100]")]
    public void BadOptionsWriteNothing(string option, string value, string expected)
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300", "m.onnx");
        CliRunner.AssertBadInput(CliRunner.Run("sensitivity", model, "--data", "embedded", "--limit", "100", option, value, "--out", dir.File("s")), expected);
        Assert.False(Directory.Exists(dir.File("s")));
    }
}
