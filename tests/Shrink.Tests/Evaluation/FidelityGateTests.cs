using Shrink.Builder;
using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Text;
using Xunit;

namespace Shrink.Tests.Evaluation;

/// <summary>
/// The fidelity every before/after comparison measures (<see cref="ModelEvaluation.Compare"/>): on the test data, else the check's
/// data, else seeded random inputs (said so); refused below <see cref="FidelityOptions.MinFidelity"/>; a collapse warned about.
/// </summary>
public class FidelityGateTests
{
    private static Model Perceptron(int seed)
    {
        var b = new NetworkBuilder("mlp", seed);
        b.Output(b.Linear(b.Relu(b.Linear(b.Input("input", 8), 16)), 4), "logits");
        return b.Build();
    }

    private static (string A, string B) Files(TempDirectory dir, int seedA = 1, int seedB = 2)
    {
        ModelSaver.Save(Perceptron(seedA), dir.File("a.onnx"));
        ModelSaver.Save(Perceptron(seedB), dir.File("b.onnx"));
        return (dir.File("a.onnx"), dir.File("b.onnx"));
    }

    [Fact]
    public void WithoutData_TheResultIsMeasuredOnSeededRandomInputs_AndTheMeasurementSaysSo()
    {
        using var dir = new TempDirectory();
        var (a, _) = Files(dir);

        var c = ModelEvaluation.Compare(a, a, null, Array.Empty<int>());

        Assert.Equal("32 seeded random inputs (normal floats, seed 0; no data given)", c.After.FidelityData);
        var f = Assert.Single(c.After.Fidelity!);
        Assert.Equal(("logits", 32, 1.0, 1.0), (f.Output, f.Samples, f.Top1Agreement, Math.Round(f.Cosine, 12)));
        Assert.True(double.IsPositiveInfinity(f.SqnrDb));
        Assert.Empty(c.After.FidelityWarnings);
        Assert.Null(c.Before.Fidelity);  // the "before" side is the reference
    }

    [Fact]
    public void OnLabelledData_TheResultGetsAccuracyAndFidelityToo()
    {
        using var dir = new TempDirectory();
        var (a, b) = Files(dir);
        var random = new Random(3);
        var test = new InMemorySource("labelled", [new HostTensor("input", Enumerable.Range(0, 40 * 8).Select(_ => (float)random.NextDouble()).ToArray(), [40, 8])],
            Enumerable.Range(0, 40).Select(i => i % 4).ToArray(), 4);

        var c = ModelEvaluation.Compare(a, b, test, Array.Empty<int>());

        Assert.NotNull(c.After.Accuracy);
        Assert.Equal("labelled", c.After.FidelityData);
        var expected = Assert.Single(Fidelity.Measure(a, b, test));
        Assert.Equal(expected, Assert.Single(c.After.Fidelity!));
    }

    [Fact]
    public void TheCheckData_IsUsedWhenThereIsNoTestData()
    {
        using var dir = new TempDirectory();
        var (a, b) = Files(dir);
        var calibration = new InMemorySource("the calibration set", [new HostTensor("input", new float[5 * 8], [5, 8])]);

        var c = ModelEvaluation.Compare(a, b, null, Array.Empty<int>(), fidelity: new FidelityCheck { Data = calibration });

        Assert.Equal("the calibration set", c.After.FidelityData);
        Assert.Equal(5, Assert.Single(c.After.Fidelity!).Samples);
    }

    [Fact]
    public void BelowMinFidelity_TheComparisonIsRefused_NamingTheOutputTheFigureTheBoundAndTheMend()
    {
        using var dir = new TempDirectory();
        var (a, b) = Files(dir);
        var cosine = Assert.Single(ModelEvaluation.Compare(a, b, null, Array.Empty<int>()).After.Fidelity!).Cosine;
        Assert.True(cosine < 0.99, $"two differently seeded models agree only by chance: {cosine}");

        var check = new FidelityCheck { Options = new FidelityOptions { MinFidelity = 0.99 }, Mend = OptionText.Of($"lower {OptionName.Of("Sparsity")}") };
        var e = Assert.Throws<FidelityException>(() => ModelEvaluation.Compare(a, b, null, Array.Empty<int>(), fidelity: check));

        Assert.Equal($"output 'logits' has cosine {cosine:F4} against the input model, below min fidelity 0.99; nothing was written: lower sparsity, or lower min fidelity", e.Message);
        Assert.Equal(new[] { "MinFidelity", "Sparsity", "MinFidelity" }, e.Wording.Options.Select(o => o.Property));  // the CLI prints them as its flags
        Assert.Equal((0.99, "logits"), (e.Bound, e.Worst.Output));
        // At or below the figure it passes.
        ModelEvaluation.Compare(a, b, null, Array.Empty<int>(), fidelity: check with { Options = new FidelityOptions { MinFidelity = Math.Floor(cosine * 1000) / 1000 } });
    }

    [Fact]
    public void ACollapse_IsAWarning_NamingTheOutputAndItsCosine()
    {
        var warnings = Fidelity.Collapses([new OutputFidelity("logits", 10, 0.1, 0.42, 1.5, 3), new OutputFidelity("aux", 10, null, 0.95, 20, 0.1)]);

        Assert.Equal("output 'logits' collapsed: cosine 0.42 against the input model (under 0.9)", Assert.Single(warnings));
    }

    [Theory]
    [InlineData(1.5)]
    [InlineData(-2)]
    [InlineData(double.NaN)]
    public void AMinFidelityThatIsNoCosine_IsRefusedNamingTheProperty(double bound)
    {
        var e = Assert.Throws<OptionsException>(() => new FidelityOptions { MinFidelity = bound }.Validate());
        Assert.Equal(nameof(FidelityOptions.MinFidelity), e.Option);
    }

    [Fact]
    public void RandomInputs_CannotBeMadeForADynamicAxisWithoutASize_ANoteSaysSo_AndWithABoundItIsRefused()
    {
        using var dir = new TempDirectory();
        var b = new NetworkBuilder("seq");
        var x = b.Input("tokens", 1, 4);
        x.Shape = new Shape(new[] { Dim.Symbol("batch"), Dim.Symbol("seq"), Dim.Of(4) });
        b.Output(b.Op("Relu", [x]), "y");
        ModelSaver.Save(b.Build(), dir.File("s.onnx"));

        var c = ModelEvaluation.Compare(dir.File("s.onnx"), dir.File("s.onnx"), null, Array.Empty<int>());
        Assert.Null(c.After.Fidelity);
        Assert.StartsWith("fidelity to the input model not measured: input 'tokens'", Assert.Single(c.Notes));

        var e = Assert.Throws<OptionsException>(() => ModelEvaluation.Compare(dir.File("s.onnx"), dir.File("s.onnx"), null, Array.Empty<int>(),
            fidelity: new FidelityCheck { Options = new FidelityOptions { MinFidelity = 0.9 } }));
        Assert.StartsWith("min fidelity needs the result measured against the input model", e.Message);

        var sized = ModelEvaluation.Compare(dir.File("s.onnx"), dir.File("s.onnx"), null, Array.Empty<int>(), new RunnerOptions { DimValues = new Dictionary<string, long> { ["seq"] = 3 } });
        Assert.Equal(1.0, Assert.Single(sized.After.Fidelity!).Cosine, 12);
    }
}
