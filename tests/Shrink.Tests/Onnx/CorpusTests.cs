using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Onnx.Proto;
using Shrink.Runtime;
using Xunit;

namespace Shrink.Tests.Onnx;

/// <summary>
/// The real-graphs corpus (tests/data/torch/corpus) as torch.onnx.export wrote it: read without complaint, written back
/// to an equal proto, and run by ONNX Runtime to PyTorch's own output.
/// </summary>
public class CorpusTests
{
    /// <summary>ONNX Runtime against PyTorch (other convolution code), of the output's scale; the worst measured is in the README of the corpus.</summary>
    private const double PyTorchTolerance = 1e-5;

    public static TheoryData<string, string> Models => Corpus.RepresentativeForms;

    [Theory]
    [MemberData(nameof(Models))]
    public void ReadsAsAValidGraph(string name, string form)
    {
        var model = OnnxReader.Read(Corpus.ModelPath(name, form));

        Assert.Empty(GraphValidator.Validate(model));
        Assert.Equal("input", Assert.Single(model.Graph.Inputs).Name);
        Assert.Equal("output", Assert.Single(model.Graph.Outputs).Name);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void RoundTripsToAnEqualProto(string name, string form)
    {
        var original = File.ReadAllBytes(Corpus.ModelPath(name, form));

        var written = OnnxWriter.ToBytes(OnnxReader.Read(Corpus.ModelPath(name, form)));

        RoundTripTests.AssertSameProto(ModelProto.Parser.ParseFrom(original), ModelProto.Parser.ParseFrom(written));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void OnnxRuntimeMatchesPyTorch(string name, string form)
    {
        using var runner = OnnxRunner.Load(Corpus.ModelPath(name, form), new RunnerOptions { Threads = 1 });

        var output = Assert.Single(runner.Run(new[] { Corpus.Input(name, form) }));

        var (reference, shape) = Corpus.Output(name, form);
        Assert.Equal(shape, output.Shape);
        AssertClose(reference, (float[])output.Data, PyTorchTolerance, $"{name}.{form} vs PyTorch");
    }

    [Theory]
    [InlineData("resnet18")]
    [InlineData("mobilenet_v3_small")]
    [InlineData("densenet121")]
    public void TheRandomFormHoldsTheExportersSharedInitializers(string name)
    {
        // torchvision's initialisation folds to all-zero biases, which the exporter deduplicates and routes
        // through Identity nodes: the corpus keeps them, since that is what users' files hold.
        var model = OnnxReader.Read(Corpus.ModelPath(name, "random"));

        var identities = model.Graph.Nodes.Where(n => n.OpType == "Identity").ToList();
        Assert.NotEmpty(identities);
        Assert.All(identities, n => Assert.NotNull(n.Inputs[0]!.Const));
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = Math.Max(1e-6, expected.Max(Math.Abs));
        var worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second)) / scale;
        Assert.True(worst <= tolerance, $"{what}: largest difference {worst:E2} of the output's scale (tolerance {tolerance:E0})");
    }
}
