using Shrink.Data;
using Shrink.Onnx;
using Shrink.Passes.Pruning;
using Shrink.Techniques;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Pruning;

/// <summary>Sensitivity analysis from code: a typed report, and the <c>sensitivity</c> technique that carries it as an artifact.</summary>
public class SensitivityTechniqueTests
{
    [Fact]
    public void TheTechniquePassesTheModelThroughAndReturnsTheReport()
    {
        var technique = TechniqueRegistry.Find("sensitivity");
        var model = ModelZoo.Create("lenet5", seed: 1);
        var before = OnnxWriter.ToBytes(model);
        var options = new SensitivityOptions { Sparsities = new[] { 0.5, 0.99 }, Limit = 100, MaxDrop = 100 };
        var notes = new List<string>();
        var result = technique.Run(model, options, new TechniqueInputs { Data = FashionMnist.LoadEmbedded() }, new TechniqueSession { Notes = notes.Add });
        Assert.Equal(before, OnnxWriter.ToBytes(model));
        Assert.Equal(before, OnnxWriter.ToBytes(result.Model));
        var report = result.Artifact<SensitivityReport>()!;
        Assert.Equal((100, "magnitude"), (report.Samples, report.Method));
        Assert.Equal(new[] { "conv1", "conv2", "gemm1", "gemm2" }, report.Layers.Select(l => l.Layer));
        Assert.All(report.Layers, l => Assert.Equal(new[] { 0.5, 0.99 }, l.Points.Select(p => p.Sparsity)));
        Assert.Equal(8, notes.Count); // one progress line per layer and sparsity
        Assert.StartsWith("within 100 point(s): conv1 99 %", Assert.Single(result.Notes));
        var json = Artifacts.ToJson(report);
        Assert.Equal(json, Artifacts.ToJson(Artifacts.FromJson<SensitivityReport>(json)));
    }

    [Fact]
    public void WithoutDataOrWithBadOptionsItSaysWhy()
    {
        var technique = TechniqueRegistry.Find("sensitivity");
        Assert.Contains("give it data", Assert.Single(technique.Check(ModelZoo.Create("lenet5"), new SensitivityOptions(), TechniqueInputs.None)));
        var e = Assert.Throws<OptionsException>(() => new SensitivityOptions { Method = PruneMethod.Taylor }.Validate());
        Assert.Equal(("Method", "method taylor is not available: sensitivity analysis prunes by magnitude or random"), (e.Option, e.Message));
        Assert.Equal("Sparsities", Assert.Throws<OptionsException>(() => new SensitivityOptions { Sparsities = new[] { 1.0 } }.Validate()).Option);
        Assert.Equal("MaxDrop", Assert.Throws<OptionsException>(() => new SensitivityOptions { MaxDrop = -1 }.Validate()).Option);
    }
}
