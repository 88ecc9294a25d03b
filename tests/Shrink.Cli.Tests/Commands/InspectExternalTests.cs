using System.Text.Json;
using Shrink.Ir;
using Shrink.Onnx;
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

    /// <summary>A transformer's MACs (its sequence axis symbolic) are unknown without --dim and counted at the size it gives.</summary>
    [Fact]
    public void TransformerMacsAreCountedAtTheDimGiven()
    {
        var encoder = TestModels.TorchPath("encoder_small");   // 2 layers, hidden 64, feed-forward 128: 2·(32,768·S + 128·S²)
        var unsized = CliRunner.Run("inspect", encoder);
        Assert.Equal(0, unsized.ExitCode);
        Assert.Contains("unknown MACs per sample", unsized.Out.Replace("\n", " "));
        var sized = CliRunner.Run("inspect", encoder, "--dim", "sequence=12", "--json");
        Assert.True(sized.ExitCode == 0, sized.Err);
        using var doc = JsonDocument.Parse(sized.Out);
        var stats = doc.RootElement.GetProperty("summary");
        Assert.Equal((2 * (32_768 * 12 + 128 * 12 * 12), true), (stats.GetProperty("macs").GetInt64(), stats.GetProperty("macsComplete").GetBoolean()));
        CliRunner.AssertBadInput(CliRunner.Run("inspect", encoder, "--dim", "sequence=0"), "--dim 'sequence=0' is not NAME=SIZE with a positive size");
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

    [Fact]
    public void ManyLayers_AreAnAlignedPlainTableWithEveryLayer()
    {
        using var dir = new TempDirectory();
        var g = new Graph("chain");
        var x = new Value("x", DataType.Float, Shape.Of(new long[] { 1, 4 }));
        g.Inputs.Add(x);
        for (var i = 0; i < 250; i++)
        {
            var w = new Value($"w{i}", DataType.Float, Shape.Of(new long[] { 4, 4 })) { Const = Tensor.FromFloats($"w{i}", new long[] { 4, 4 }, new float[16]) };
            g.Initializers.Add(w);
            var y = new Value($"y{i}", DataType.Float, Shape.Of(new long[] { 1, 4 }));
            var node = new Node("MatMul", "", $"mm{i}").AddInput(x).AddInput(w);
            node.AddOutput(y);
            g.AddNode(node);
            x = y;
        }
        g.Outputs.Add(x);
        var m = new Model(g);
        m.SetOpset("", 17);
        OnnxWriter.Write(m, dir.File("m.onnx"));

        var r = CliRunner.Run("inspect", dir.File("m.onnx"));

        Assert.Equal(0, r.ExitCode);
        var lines = r.Out.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("layer ") && l.Contains("non-zero") && l.EndsWith("MACs"));
        var rows = lines.Where(l => l.StartsWith("mm")).ToList();
        Assert.Equal(250, rows.Count);
        Assert.Single(rows.Select(l => l.Length).Distinct());  // aligned
        Assert.Matches(@"^mm249\s+MatMul\s+\[1,4\]\s+16\s+0\s+100\.0 %\s+16$", rows[^1]);
        Assert.StartsWith("total", lines.Last(l => l.Length > 0));
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
