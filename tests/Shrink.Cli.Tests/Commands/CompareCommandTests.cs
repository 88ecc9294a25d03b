using System.Text.Json;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary><c>shrink compare A B</c>: every matching pair of intermediate tensors, ranked by error, worst first.</summary>
public class CompareCommandTests
{
    [Fact]
    public void AModelAgainstItself_EveryTensorHasCosine1()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5");

        var r = CliRunner.Run("compare", model, model, "--samples", "8", "--json");

        Assert.True(r.ExitCode == 0, r.Err);
        var tensors = JsonDocument.Parse(r.Out).RootElement.GetProperty("tensors").EnumerateArray().ToList();
        Assert.True(tensors.Count >= 8, r.Out);
        Assert.All(tensors, t => Assert.Equal(1.0, t.GetProperty("cosine").GetDouble(), 9));
        Assert.All(tensors, t => Assert.Equal("Infinity", t.GetProperty("sqnrDb").GetString()));
    }

    [Fact]
    public void FloatAgainstItsStaticInt8_ListsTheWorstFirst_WithTheDequantizedTensorsMatched()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5");
        Assert.Equal(0, CliRunner.Run("quantize", model, "--data", "embedded", "--calib-samples", "64", "--bench-batch", "none", "--out", dir.File("q.onnx")).ExitCode);

        var json = CliRunner.Run("compare", model, dir.File("q.onnx"), "--data", "embedded", "--samples", "32", "--json");
        var text = CliRunner.Run("compare", model, dir.File("q.onnx"), "--data", "embedded", "--samples", "32", "--top", "3");

        Assert.True(json.ExitCode == 0, json.Err);
        var root = JsonDocument.Parse(json.Out).RootElement;
        var sqnr = root.GetProperty("tensors").EnumerateArray().Select(t => t.GetProperty("sqnrDb").GetDouble()).ToList();
        Assert.Equal(sqnr.OrderBy(x => x), sqnr);
        Assert.Contains(root.GetProperty("tensors").EnumerateArray(), t => t.GetProperty("candidate").GetString()!.EndsWith("_dequantized", StringComparison.Ordinal));
        Assert.Equal(32, root.GetProperty("samples").GetInt32());
        Assert.Equal(0, text.ExitCode);
        Assert.Contains($"compared {sqnr.Count} tensor pair(s)", text.Out);
        Assert.Contains("the 3 worst listed", text.Out);
    }

    [Fact]
    public void AMissingModel_IsExit2()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        CliRunner.AssertBadInput(CliRunner.Run("compare", model, dir.File("missing.onnx")), "missing.onnx");
        CliRunner.AssertBadInput(CliRunner.Run("compare", model, model, "--top", "0"), "--top 0 is out of range");
    }
}
