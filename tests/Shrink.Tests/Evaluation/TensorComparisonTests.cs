using Shrink.Builder;
using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Xunit;

namespace Shrink.Tests.Evaluation;

/// <summary>
/// <see cref="TensorComparison"/>: every intermediate tensor of a float model against its match in another model, ranked by error,
/// as ONNX Runtime's qdq_loss_debug pairs a float tensor with the dequantized one in a QDQ model.
/// </summary>
public class TensorComparisonTests
{
    /// <summary>An MLP 16 → 32 → 32 → 32 → 10 with ReLUs.</summary>
    private static Model Mlp()
    {
        var b = new NetworkBuilder("mlp", seed: 5);
        var x = b.Input("input", 16);
        b.Output(b.Linear(b.Relu(b.Linear(b.Relu(b.Linear(b.Relu(b.Linear(x, 32)), 32)), 32)), 10), "logits");
        return b.Build();
    }

    private static InMemorySource Inputs(int n = 64)
    {
        var random = new Random(1);
        return new InMemorySource("inputs", [new HostTensor("input", Enumerable.Range(0, n * 16).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(), [n, 16])]);
    }

    /// <summary>
    /// Static int8 of the model; with <paramref name="bad"/>, that Gemm (0-based) is made bad on purpose: its int8 weights are stored
    /// in reverse order, so it computes something else while every other layer stays as quantized.
    /// </summary>
    private static Model Int8(Model model, int? bad = null)
    {
        var quantized = Quantizer.Static(model, CalibrationSet.From(Inputs(), 64)).Model;
        if (bad is { } layer)
        {
            var weight = quantized.Graph.Nodes.Where(n => n.OpType == "Gemm").ElementAt(layer).Inputs[1]!.Producer!;
            Assert.Equal("DequantizeLinear", weight.OpType);
            var levels = weight.Inputs[0]!.Const!;
            levels.SetData(levels.RawData.Reverse().ToArray());
        }
        return quantized;
    }

    [Fact]
    public void AModelAgainstItself_MatchesEveryTensor_AllCosine1_SqnrInfinite()
    {
        var model = Mlp();
        var r = TensorComparison.Compare(model, model, Inputs());

        Assert.Equal(model.Graph.Nodes.Count, r.Tensors.Count);  // every node's output, the logits included
        Assert.All(r.Tensors, t => Assert.Equal(1.0, t.Cosine, 12));
        Assert.All(r.Tensors, t => Assert.True(double.IsPositiveInfinity(t.SqnrDb) && t.MaxAbsError == 0, t.Tensor));
        Assert.Empty(r.Skipped);
        Assert.Empty(r.Unmatched);
        Assert.Single(r.Tensors, t => t.IsOutput && t.Tensor == "logits");
        Assert.Equal(64, r.Samples);
    }

    [Fact]
    public void FloatAgainstStaticInt8_PairsEachTensorWithItsDequantizedTensor_AndTheBadLayerRanksFirst()
    {
        var model = Mlp();
        var r = TensorComparison.Compare(model, Int8(model, bad: 3), Inputs());  // the last Gemm: the logits

        var worst = r.Tensors[0];
        Assert.Equal("logits", worst.Tensor);
        Assert.True(worst.Cosine < 0.9, $"{worst}");
        Assert.All(r.Tensors.Skip(1), t => Assert.True(t.Cosine > 0.99, $"{t}"));
        Assert.Equal(r.Tensors.OrderBy(t => t.SqnrDb).Select(t => t.Tensor), r.Tensors.Select(t => t.Tensor));  // worst (lowest SQNR) first
        // The ReLU folded into the quantization of its Gemm: its output is that Gemm's dequantized tensor.
        Assert.Contains(r.Tensors, t => t.Producer.Contains("relu", StringComparison.OrdinalIgnoreCase) && t.Candidate.EndsWith("_dequantized", StringComparison.Ordinal));
        Assert.Empty(r.Unmatched);
    }

    [Fact]
    public void ABadLayerInTheMiddle_IsTheFirstTensorBelowTheCollapseBound()
    {
        var model = Mlp();
        var r = TensorComparison.Compare(model, Int8(model, bad: 1), Inputs());

        var first = r.FirstBelow();
        Assert.NotNull(first);
        var badGemm = model.Graph.Nodes.Where(n => n.OpType == "Gemm").ElementAt(1);
        Assert.Contains(first!.Tensor, new[] { badGemm.Outputs[0]!.Name, badGemm.Outputs[0]!.Uses[0].Node.Outputs[0]!.Name });  // the Gemm, or its ReLU
        Assert.All(r.Tensors.Where(t => t.Position < first.Position), t => Assert.True(t.Cosine > 0.99, $"{t}"));
    }

    [Fact]
    public void PairsWhoseShapesDiffer_AreSkippedAndCounted()
    {
        var narrow = new NetworkBuilder("mlp", seed: 5);
        var x = narrow.Input("input", 16);
        narrow.Output(narrow.Linear(narrow.Relu(narrow.Linear(narrow.Relu(narrow.Linear(narrow.Relu(narrow.Linear(x, 16)), 32)), 32)), 10), "logits");

        var r = TensorComparison.Compare(Mlp(), narrow.Build(), Inputs());

        Assert.Equal(2, r.Skipped.Count);  // the first Gemm and its ReLU: 32 wide against 16
        Assert.All(r.Skipped, s => Assert.Equal(new long[] { 16, 32 }, s.ReferenceShape));
        Assert.Equal(Mlp().Graph.Nodes.Count - 2, r.Tensors.Count);
    }

    [Fact]
    public void WithoutData_ItRunsSeededRandomInputs_AndSaysSo()
    {
        var model = Mlp();
        var r = TensorComparison.Compare(model, Int8(model), null, new TensorComparisonOptions { Samples = 10, Batch = 4 });

        Assert.Equal(10, r.Samples);
        Assert.StartsWith("10 seeded random inputs", r.Data);
        Assert.Throws<OptionsException>(() => new TensorComparisonOptions { Samples = 0 }.Validate());
    }
}
