using Shrink.Onnx;
using Xunit;

namespace Shrink.Training.Tests.Execution;

/// <summary>
/// The executor on the real-graphs corpus (tests/data/torch/corpus): every representative model, in both forms,
/// compiles (no unsupported op) and computes what ONNX Runtime computes from the same bytes. Left out:
/// densenet121.random, whose BatchNormalization running means reach the node through Identity from the all-zero
/// tensor the exporter shares with the biases, so the executor makes them trainable and libtorch refuses
/// (bench/real_graphs.sh shows it; un-sharing such initializers is issue 16, item 1).
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
            foreach (var (name, form) in Corpus.RepresentativePairs.Where(p => p != ("densenet121", "random"))) data.Add(name, form);
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
}
