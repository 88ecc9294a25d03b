using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Runtime;
using Xunit;
using A = Shrink.Ir.Attribute;

namespace Shrink.Tests.Evaluation;

/// <summary>
/// Fidelity of a compressed model to its original, on hand-computed values: top-1 agreement (classifier outputs only),
/// cosine similarity per sample, SQNR over every element, max |error|; and the labelled figures of an evaluation (top-1,
/// top-5, cross-entropy) against their definitions.
/// </summary>
public class FidelityTests
{
    private static HostTensor T(string name, float[] data, params long[] shape) => new(name, data, shape);

    [Fact]
    public void AClassifierOutput_AgreementCosineSqnrAndMaxError_AsComputedByHand()
    {
        var meter = new FidelityMeter();
        // Sample 0 is the same in both; sample 1 is (3, 1) against (1, 3).
        meter.Add([T("logits", [1, 2, 3, 1], 2, 2)], [T("logits", [1, 2, 1, 3], 2, 2)]);

        var f = Assert.Single(meter.Result());
        Assert.Equal("logits", f.Output);
        Assert.Equal(2, f.Samples);
        Assert.Equal(0.5, f.Top1Agreement);                     // argmax 1 = 1; argmax 0 ≠ 1
        Assert.Equal((1 + 6.0 / 10) / 2, f.Cosine, 12);          // cos = 1, then (3·1 + 1·3) / (√10·√10) = 0.6
        Assert.Equal(10 * Math.Log10(15.0 / 8), f.SqnrDb, 12);   // Σr² = 1 + 4 + 9 + 1, Σ(r − c)² = 4 + 4: 2.73 dB
        Assert.Equal(2, f.MaxAbsError);
    }

    /// <summary>
    /// The spread of the per-sample cosines (1 and 0.6, as above): their sample standard deviation, and the lower bounds it
    /// gives, z standard errors under the mean — of the mean itself, and of the mean of m other samples (σ√(1/n + 1/m));
    /// one sample has no spread, so its bound is its cosine.
    /// </summary>
    [Fact]
    public void TheCosineSpread_IsTheSampleStandardDeviationOfThePerSampleCosines()
    {
        var meter = new FidelityMeter();
        meter.Add([T("logits", [1, 2, 3, 1], 2, 2)], [T("logits", [1, 2, 1, 3], 2, 2)]);
        var f = Assert.Single(meter.Result());
        var sd = Math.Sqrt(((1 - 0.8) * (1 - 0.8) + (0.6 - 0.8) * (0.6 - 0.8)) / 1);   // n − 1 = 1
        Assert.Equal(sd, f.CosineStdDev, 12);
        Assert.Equal(0.8 - 1.645 * sd / Math.Sqrt(2), f.CosineLowerBound(1.645), 12);            // the mean's confidence bound
        Assert.Equal(0.8 - 1.645 * sd * Math.Sqrt(1.0 / 2 + 1.0 / 8), f.CosineLowerBound(1.645, 8), 12);   // 8 other samples' mean
        var one = new FidelityMeter();
        one.Add([T("y", [1, 2], 1, 2)], [T("y", [2, 1], 1, 2)]);
        Assert.Equal((0.0, one.Result()[0].Cosine), (one.Result()[0].CosineStdDev, one.Result()[0].CosineLowerBound(1.645)));
    }

    [Fact]
    public void AMapOutput_HasNoAgreement_AndAddsUpOverBatches()
    {
        var meter = new FidelityMeter();
        // [batch 1, 2 channels, 1, 2] twice: the second batch doubles every value of the candidate.
        meter.Add([T("mask", [1, -1, 2, 0], 1, 2, 1, 2)], [T("mask", [1, -1, 2, 0], 1, 2, 1, 2)]);
        meter.Add([T("mask", [0, 0, 0, 0], 1, 2, 1, 2)], [T("mask", [0, 0, 0, 0], 1, 2, 1, 2)]);
        meter.Add([T("mask", [1, 0, 0, 1], 1, 2, 1, 2)], [T("mask", [2, 0, 0, 2], 1, 2, 1, 2)]);

        var f = Assert.Single(meter.Result());
        Assert.Null(f.Top1Agreement);
        Assert.Equal(3, f.Samples);
        Assert.Equal(1.0, f.Cosine, 12);                          // equal, both zero, parallel
        Assert.Equal(10 * Math.Log10((6.0 + 2) / 2), f.SqnrDb, 12); // Σr² = 1+1+4 + 1+1, Σ(r − c)² = 1 + 1
        Assert.Equal(1, f.MaxAbsError);
    }

    [Fact]
    public void EqualOutputsHaveAnInfiniteSqnr_AndAZeroAgainstANonZeroSampleHasCosineZero()
    {
        var same = new FidelityMeter();
        same.Add([T("y", [0.5f, -2], 1, 2)], [T("y", [0.5f, -2], 1, 2)]);
        Assert.True(double.IsPositiveInfinity(same.Result()[0].SqnrDb));
        Assert.Equal("∞ dB", Fidelity.Decibels(same.Result()[0].SqnrDb));

        var zero = new FidelityMeter();
        zero.Add([T("y", [0, 0], 1, 2)], [T("y", [1, 0], 1, 2)]);
        Assert.Equal(0, zero.Result()[0].Cosine);
    }

    [Fact]
    public void OutputsPairByName_AndADifferentShapeIsOneLine()
    {
        var meter = new FidelityMeter();
        meter.Add([T("a", [1, 2], 1, 2), T("b", [3], 1, 1)], [T("b", [3], 1, 1), T("a", [1, 2], 1, 2)]);
        Assert.Equal(["a", "b"], meter.Result().Select(f => f.Output));
        Assert.Null(meter.Result()[1].Top1Agreement);  // [batch, 1] is not a classifier

        var e = Assert.Throws<DataException>(() => new FidelityMeter().Add([T("a", [1, 2], 1, 2)], [T("a", [1, 2], 2, 1)]));
        Assert.Equal("output 'a' is [1,2] in the original and [2,1] in the compressed model; fidelity compares outputs of one shape", e.Message);
    }

    /// <summary>x [N, 6] → Mul by <paramref name="scale"/> → logits: the output is the input scaled.</summary>
    private static Model Scale(float scale)
    {
        var g = new Graph("scale");
        var x = new Value("x", DataType.Float, new Shape(new[] { Dim.Symbol("N"), Dim.Of(6) }));
        g.Inputs.Add(x);
        var s = g.AddInitializer(Tensor.FromFloats("s", [], [scale]));
        var mul = new Node("Mul", "", "mul").AddInput(x).AddInput(s);
        mul.AddOutput(new Value("logits", DataType.Float));
        g.AddNode(mul);
        g.Outputs.Add(mul.Outputs[0]!);
        var model = new Model(g) { IrVersion = 8 };
        model.SetOpset("", 17);
        return model;
    }

    private static InMemorySource Logits(int[]? labels) => new("logits",
        [T("x", [0, 1, 2, 3, 4, 5, /**/ 5, 4, 3, 2, 1, 0, /**/ 0, 1, 9, 2, 3, 4], 3, 6)], labels, labels is null ? null : 6);

    [Fact]
    public void Measure_InOnnxRuntime_AScaledCopyAgreesEverywhere_WithTheSqnrOfItsError()
    {
        var f = Assert.Single(Fidelity.Measure(Scale(1), Scale(2), Logits(null), batchSize: 2));
        Assert.Equal(3, f.Samples);
        Assert.Equal(1.0, f.Top1Agreement);
        Assert.Equal(1.0, f.Cosine, 6);
        Assert.Equal(0.0, f.SqnrDb, 6);  // the error c − r = r: as large as the signal
        Assert.Equal(9, f.MaxAbsError, 6);
    }

    [Fact]
    public void Evaluate_Top1Top5AndLoss_AreTheirDefinitions()
    {
        // Labels: 5 (the highest of row 0), 3 (fourth highest of row 1: in the top 5, not top 1), 0 (the lowest of row 2: not in the top 5).
        using var runner = OnnxRunner.FromModel(Scale(1));
        var r = runner.Evaluate(Logits([5, 3, 0]), batchSize: 2);

        Assert.Equal((3, 1, 2), (r.Samples, r.Correct, r.Top5Correct));
        double Ce(float[] z, int y) => Math.Log(z.Sum(v => Math.Exp(v))) - z[y];
        var expected = (Ce([0, 1, 2, 3, 4, 5], 5) + Ce([5, 4, 3, 2, 1, 0], 3) + Ce([0, 1, 9, 2, 3, 4], 0)) / 3;
        Assert.Equal(expected, r.Loss, 6);
        Assert.Equal(2.0 / 3, r.Top5Accuracy, 12);
    }

    [Fact]
    public void Evaluate_OnDataWithoutLabels_SaysToMeasureFidelity()
    {
        using var runner = OnnxRunner.FromModel(Scale(1));
        var e = Assert.Throws<DataException>(() => runner.Evaluate(Logits(null)));
        Assert.Equal("logits has no labels: accuracy needs labelled data; measure fidelity to the original model instead", e.Message);
    }

    [Fact]
    public void Compare_WithoutLabels_GivesTheAfterSideItsFidelityToTheBefore()
    {
        using var dir = new TempDirectory();
        ModelSaver.Save(Scale(1), dir.File("a.onnx"));
        ModelSaver.Save(Scale(1), dir.File("b.onnx"));

        var c = ModelEvaluation.Compare(dir.File("a.onnx"), dir.File("b.onnx"), Logits(null), Array.Empty<int>());
        Assert.Null(c.After.Accuracy);
        Assert.Equal("logits", c.After.Data);
        Assert.True(double.IsPositiveInfinity(Assert.Single(c.After.Fidelity!).SqnrDb));
        Assert.Null(c.Before.Fidelity);

        var labelled = ModelEvaluation.Compare(dir.File("a.onnx"), dir.File("b.onnx"), Logits([5, 3, 0]), Array.Empty<int>());
        Assert.Equal((1.0 / 3, 2.0 / 3), (labelled.After.Accuracy!.Value, labelled.After.Top5!.Value));
        Assert.True(double.IsPositiveInfinity(Assert.Single(labelled.After.Fidelity!).SqnrDb));  // labelled data gives fidelity too
        Assert.Equal("logits", labelled.After.FidelityData);
    }
}
