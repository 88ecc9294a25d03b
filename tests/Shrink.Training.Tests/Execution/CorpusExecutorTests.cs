using Shrink.Training.Execution;
using Shrink.Onnx;
using Xunit;

namespace Shrink.Training.Tests.Execution;

/// <summary>
/// The executor on the real-graphs corpus (tests/data/torch/corpus): every representative model, in both forms,
/// compiles (no unsupported op) and computes what ONNX Runtime computes from the same bytes, densenet121.random
/// included: its BatchNormalization running means reach the node through Identity from the all-zero tensor the
/// exporter shares with the BatchNorm biases, so the executor compiles it unshared.
/// </summary>
[Collection("torch")]
public class CorpusExecutorTests
{
    /// <summary>Of the output's scale, as the other executor parity tests (<see cref="Parity.Tolerance"/>).</summary>
    private const double Tolerance = Parity.Tolerance;

    public static TheoryData<string, string> Models
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var (name, form) in Corpus.RepresentativePairs.Append(("densenet121", "random")).Distinct()) data.Add(name, form);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void MatchesOnnxRuntime(string name, string form)
    {
        var model = OnnxReader.Read(Corpus.ModelPath(name, form));

        OpParity.AssertMatches(model, new[] { Corpus.Input(name, form) }, Tolerance, $"{name}.{form}");
    }

    /// <summary>
    /// A training-mode forward of densenet121.random updates the running means (copies of their own) and leaves the
    /// BatchNorm biases they were shared with at zero: a buffer is never a weight.
    /// </summary>
    [Fact]
    public void SharedRunningStatisticsAreBuffersOfTheirOwn()
    {
        var model = OnnxReader.Read(Corpus.ModelPath("densenet121", "random"));
        using var executor = GraphExecutor.Compile(model);
        var bn = executor.Model.Graph.Nodes.First(n => n.OpType == "BatchNormalization");
        Assert.NotNull(bn.Inputs[3]!.Const); // its own initializer now, not an Identity's output
        Assert.Equal(ParameterKind.Buffer, executor.FindParameter(bn.Inputs[3]!.Name)!.Kind);
        executor.Training = true;
        using (var scope = TorchSharp.torch.NewDisposeScope())
            executor.Forward(TorchTensors.FromHost(Corpus.Input("densenet121", "random")));
        var trained = executor.Export().Graph.FindNode(bn.Name)!;
        Assert.Contains(trained.Inputs[3]!.Const!.AsFloats().ToArray(), m => m != 0);
        Assert.All(trained.Inputs[2]!.Const!.AsFloats().ToArray(), b => Assert.Equal(0f, b));
    }
}
