using System.Text.Json;
using Shrink.Onnx;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>
/// Fidelity everywhere: every command that changes what a model computes prints the result's fidelity to its input model per
/// output, refuses with --min-fidelity a result below it (exit 2, nothing written), and warns, without it, of a collapse.
/// </summary>
public class FidelityCliTests
{
    private static JsonElement After(CliRunner.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Err);
        return JsonDocument.Parse(r.Out).RootElement.GetProperty("after");
    }

    [Fact]
    public void Prune_WithoutData_MeasuresOnSeededRandomInputs_AndSaysSo_InTheTableAndTheJson()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        string[] Args(params string[] more) => ["prune", model, "--method", "magnitude", "--sparsity", "0.3", "--bench-batch", "none", "--out", dir.File("p.onnx"), .. more];

        var after = After(CliRunner.Run(Args("--json")));
        Assert.Equal("32 seeded random inputs (normal floats, seed 0; no data given)", after.GetProperty("fidelityData").GetString());
        var output = Assert.Single(after.GetProperty("fidelity").EnumerateArray().ToList());
        Assert.Equal("output", output.GetProperty("output").GetString());
        Assert.InRange(output.GetProperty("cosine").GetDouble(), 0.9, 1);
        Assert.Equal(0, after.GetProperty("fidelityWarnings").GetArrayLength());

        var text = CliRunner.Run(Args());
        Assert.Contains("fidelity measured on", text.Out);
        Assert.Contains("output: cosine similarity to before", text.Out);
        Assert.Contains("output: SQNR against before", text.Out);
    }

    [Fact]
    public void Prune_BelowMinFidelity_IsExit2_NamingTheOutputTheFigureAndTheBound_AndWritesNothing()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");

        var r = CliRunner.Run("prune", model, "--method", "magnitude", "--sparsity", "0.9", "--bench-batch", "none", "--min-fidelity", "0.9999", "--out", dir.File("p.onnx"));

        CliRunner.AssertBadInput(r, "output 'output' has cosine 0.");
        Assert.Contains("below --min-fidelity 0.9999; nothing was written: prune at a lower --sparsity", r.Err);
        Assert.Equal(new[] { "lenet300.onnx" }, Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Prune_ACollapseWithoutMinFidelity_IsWrittenWithAWarningLine()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");

        var r = CliRunner.Run("prune", model, "--method", "magnitude", "--sparsity", "0.995", "--bench-batch", "none", "--out", dir.File("p.onnx"));

        Assert.True(r.ExitCode == 0, r.Err);
        var warning = Assert.Single(r.Err.Split('\n'), l => l.StartsWith("warning: ", StringComparison.Ordinal));
        Assert.StartsWith("warning: output 'output' collapsed: cosine ", warning);
        Assert.EndsWith($"find the layer that breaks with: shrink compare {model} {dir.File("p.onnx")}", warning.TrimEnd());
        Assert.True(File.Exists(dir.File("p.onnx")));
    }

    [Fact]
    public void MinFidelity_OutOfRange_IsRefusedBeforeAnyWork_AndCannotBeSavedInARecipe()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");

        CliRunner.AssertBadInput(CliRunner.Run("cluster", model, "--min-fidelity", "1.5", "--out", dir.File("c.onnx")), "--min-fidelity is a cosine similarity, in [-1, 1], got 1.5");
        CliRunner.AssertBadInput(CliRunner.Run("factorize", model, "--min-fidelity", "0.9", "--save-recipe", dir.File("r.yaml"), "--out", dir.File("f.onnx")),
            "--min-fidelity cannot be saved in a recipe");
        Assert.Equal(new[] { "lenet300.onnx" }, Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Quantize_MeasuresOnItsData_AndHoldsAnAttainableBound()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");

        var after = After(CliRunner.Run("quantize", model, "--data", "embedded", "--calib-samples", "64", "--bench-batch", "none", "--min-fidelity", "0.9", "--json", "--out", dir.File("q.onnx")));

        Assert.StartsWith("Fashion-MNIST test", after.GetProperty("fidelityData").GetString());
        Assert.InRange(Assert.Single(after.GetProperty("fidelity").EnumerateArray().ToList()).GetProperty("cosine").GetDouble(), 0.9, 1);
        Assert.True(File.Exists(dir.File("q.onnx")));
    }

    [Fact]
    public void Pack_MeasuresTheUnpackedModelAgainstThePackedOne_Lossless()
    {
        using var dir = new TempDirectory();
        OnnxWriter.Write(TestModels.Clustered("lenet300", 0.9, 4), dir.File("c.onnx"));

        var r = CliRunner.Run("pack", dir.File("c.onnx"), "--min-fidelity", "0.999999", "--json", "--out", dir.File("m.shrink"));

        Assert.True(r.ExitCode == 0, r.Err);
        var report = JsonDocument.Parse(r.Out).RootElement;
        Assert.StartsWith("32 seeded random inputs", report.GetProperty("fidelityData").GetString());
        Assert.Equal(1.0, Assert.Single(report.GetProperty("fidelity").EnumerateArray().ToList()).GetProperty("cosine").GetDouble(), 9);
    }
}
