using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Text;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Runtime;

/// <summary>
/// The runner's refusals name the options a caller sets (<see cref="RunnerOptions.DimValues"/>,
/// <see cref="BenchSettings.Batches"/>), in words, never as command-line flags.
/// </summary>
public class RunnerOptionNamingTests
{
    private static readonly OptionNaming Marked = o => $"<{o.Property}>";
    private static readonly string Transformer = TestModels.TorchFile("transformer_tiny.onnx");

    private static OptionsException Refusal(Action call)
    {
        var e = Assert.Throws<OptionsException>(call);
        Assert.DoesNotContain("--", e.Message);
        return e;
    }

    [Fact]
    public void ASymbolicAxisWithoutASizeNamesDimValues()
    {
        using var runner = OnnxRunner.Load(Transformer);
        var e = Refusal(() => runner.CheckInputSizes(1));
        Assert.EndsWith("; give it a size with dim values seq=SIZE", e.Message);
        Assert.Equal("DimValues", Assert.Single(e.Wording.Options).Property);
        Assert.EndsWith("; give it a size with <DimValues> seq=SIZE", e.Wording.Render(Marked));
    }

    [Fact]
    public void ASizeOutOfRangeNamesDimValues()
    {
        using var zero = OnnxRunner.Load(Transformer, new RunnerOptions { DimValues = new Dictionary<string, long> { ["seq"] = 0 } });
        Assert.Equal("<DimValues> seq=0 is out of range; give a positive size", Refusal(() => zero.CheckInputSizes(1)).Wording.Render(Marked));

        using var huge = OnnxRunner.Load(Transformer, new RunnerOptions { DimValues = new Dictionary<string, long> { ["seq"] = long.MaxValue } });
        var e = Refusal(() => huge.CheckInputSizes(1));
        Assert.EndsWith("; use a smaller batch size or smaller dim values sizes", e.Message);
        Assert.Equal("DimValues", Assert.Single(e.Wording.Options).Property);
    }

    [Fact]
    public void AFixedBatchNamesTheBatchSizesToBenchmark()
    {
        var model = ModelZoo.Create("lenet300");
        var input = model.Graph.Inputs[0];
        input.Shape = new Shape(input.Shape!.Dims.Skip(1).Prepend(Dim.Of(1)));
        using var runner = OnnxRunner.FromModel(model);

        var e = Refusal(() => runner.Probe(2).Dispose());
        Assert.EndsWith("has a fixed batch size of 1; benchmark it with batches 1", e.Message);
        Assert.Equal(nameof(BenchSettings.Batches), Assert.Single(e.Wording.Options).Property);
    }

    [Fact]
    public void TheComparisonsNoteNamesOptionsAsItsCallerDoes()
    {
        var words = ModelEvaluation.Compare(Transformer, Transformer, null, new[] { 1 }, new RunnerOptions { Threads = 1 });
        Assert.EndsWith("give it a size with dim values seq=SIZE", Assert.Single(words.Notes, n => n.StartsWith("latency not measured: ", StringComparison.Ordinal)));
        // Without data the fidelity's random inputs need the same size.
        Assert.EndsWith("give it a size with dim values seq=SIZE; give data to measure it", Assert.Single(words.Notes, n => n.StartsWith("fidelity to the input model not measured: ", StringComparison.Ordinal)));

        var named = ModelEvaluation.Compare(Transformer, Transformer, null, new[] { 1 }, new RunnerOptions { Threads = 1 }, naming: Marked);
        Assert.Equal(2, named.Notes.Count);
        Assert.All(named.Notes, n => Assert.Contains("give it a size with <DimValues> seq=SIZE", n));
    }
}
