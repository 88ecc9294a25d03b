using System.Text.Json;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary><c>shrink inspect</c> of a model with external data reads no weight unless <c>--count-nonzero</c> asks it to.</summary>
public class InspectExternalTests
{
    private static string ExternalLenet(TempDirectory dir)
    {
        var zoo = CliRunner.Zoo(dir, "lenet5", "z.onnx");
        Assert.Equal(0, CliRunner.Run("convert", zoo, "--out", dir.File("m.onnx"), "--external-data").ExitCode);
        return dir.File("m.onnx");
    }

    [Fact]
    public void WithoutTheFlag_ExternalWeightsAreNotCounted()
    {
        using var dir = new TempDirectory();
        var m = ExternalLenet(dir);

        var text = CliRunner.Run("inspect", m);
        var json = CliRunner.Run("inspect", m, "--json");

        Assert.Equal(0, text.ExitCode);
        Assert.Contains("non-zero not counted", text.Out);
        Assert.Contains("--count-nonzero counts them", text.Out);
        using var doc = JsonDocument.Parse(json.Out);
        var summary = doc.RootElement.GetProperty("summary");
        Assert.Equal(431_080, summary.GetProperty("parameters").GetInt64());
        Assert.True(Absent(summary, "nonZero"));
        Assert.True(summary.GetProperty("uncounted").GetInt64() > 400_000);
        Assert.All(doc.RootElement.GetProperty("layers").EnumerateArray(), l => Assert.True(Absent(l, "sparsity")));
    }

    /// <summary>Null values are left out of Shrink's JSON.</summary>
    private static bool Absent(JsonElement e, string name) => !e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null;

    [Fact]
    public void WithTheFlag_CountsAsTheInlineModel()
    {
        using var dir = new TempDirectory();
        var m = ExternalLenet(dir);

        using var external = JsonDocument.Parse(CliRunner.Run("inspect", m, "--json", "--count-nonzero").Out);
        using var inline = JsonDocument.Parse(CliRunner.Run("inspect", dir.File("z.onnx"), "--json").Out);

        var (e, i) = (external.RootElement.GetProperty("summary"), inline.RootElement.GetProperty("summary"));
        Assert.Equal(i.GetProperty("nonZero").GetInt64(), e.GetProperty("nonZero").GetInt64());
        Assert.Equal(0, e.GetProperty("uncounted").GetInt64());
        Assert.Equal(inline.RootElement.GetProperty("layers").ToString(), external.RootElement.GetProperty("layers").ToString());
    }
}
