using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Ir;
using Shrink.Passes.Pruning;
using Shrink.Passes.Quantization;
using Shrink.Passes.Sharing;
using Shrink.Runtime;
using Shrink.Techniques;
using Shrink.Training;
using Shrink.Training.Distillation;
using Shrink.Training.Execution;
using Shrink.Training.FineTuning;
using Shrink.Training.Pruning;
using Shrink.Training.Quantization;
using Shrink.Training.Sharing;
using Xunit;

namespace Shrink.Training.Tests;

/// <summary>
/// Models of any input, through every consumer of data: two int64 inputs (token ids and a mask), a dynamic sequence
/// axis (transformer_tiny), an output that is a map (a 1×1-conv head) — calibrated and quantized, evaluated (accuracy
/// with labels, fidelity without), fine-tuned with labels and without (distilled from the original), QAT, sensitivity.
/// </summary>
[Collection("torch")]
public class AnyInputTests
{
    private static TechniqueSession Quiet => new();

    private static double Accuracy(Model model, IDataSource test)
    {
        using var runner = OnnxRunner.FromModel(model);
        return runner.Evaluate(test).Accuracy;
    }

    private static OutputFidelity Fidelity(Model original, Model other, IDataSource data) => Assert.Single(Shrink.Evaluation.Fidelity.Measure(original, other, data));

    [Fact]
    public void TokenIdsAndAMask_AreFineTunedEvaluatedCalibratedAndQuantized()
    {
        TorchRuntime.EnsureInitialized();
        var (train, test) = (AnyInputModels.Tokens(240, seed: 1), AnyInputModels.Tokens(120, seed: 2));
        var model = AnyInputModels.TokenBag();
        var before = Accuracy(model, test);

        var tuning = new FineTuneOptions { Epochs = 4, LearningRate = 0.2, Batch = 16 };
        var tuned = FineTuner.Run(model, tuning, new TechniqueInputs { Data = new DataSplits(train, test) }, Quiet, "fine-tune");
        var after = Accuracy(tuned.Model, test);
        // Each class owns a third of the vocabulary: measured 47.5 % before, 100 % after; the executor agrees with ONNX Runtime.
        Assert.True(after > before + 0.3 && after > 0.9, $"accuracy {before:P1} before fine-tuning, {after:P1} after");
        Assert.Equal(after, tuned.TestAccuracy, 2);

        var quantized = Quantizer.Static(tuned.Model, CalibrationSet.From(train, 64));
        Assert.Contains(quantized.Model.Graph.Nodes, n => n.OpType == "QuantizeLinear");
        var f = Fidelity(tuned.Model, quantized.Model, test);
        Assert.True(f.Top1Agreement >= 0.97 && f.Cosine > 0.999 && f.SqnrDb > 30, f.ToString());  // measured: 100 %, cosine 1.0000, 40.4 dB
        Assert.InRange(Accuracy(quantized.Model, test), after - 0.03, 1);
    }

    [Fact]
    public void TokenIdsAndAMask_TrainWithQatAndDistillation_AndGetASensitivityCurve()
    {
        TorchRuntime.EnsureInitialized();
        var data = new DataSplits(AnyInputModels.Tokens(240, seed: 3), AnyInputModels.Tokens(96, seed: 4));
        var teacher = FineTuner.Run(AnyInputModels.TokenBag(), new FineTuneOptions { Epochs = 4, LearningRate = 0.2, Batch = 16 },
            new TechniqueInputs { Data = data }, Quiet, "teacher").Model;

        var qat = QuantizationAwareTraining.Run(teacher, new TechniqueInputs { Data = data },
            new QatOptions { FineTune = new FineTuneOptions { Epochs = 1, LearningRate = 0.01, Batch = 16 } }, Quiet);
        Assert.InRange(Accuracy(qat.Quantized.Model, data.Test), qat.ExecutorAccuracy - 2.0 / 96, qat.ExecutorAccuracy + 2.0 / 96);

        var distilled = Distiller.Distill(AnyInputModels.TokenBag(seed: 9), teacher,
            new DistillTechniqueOptions { Training = new TrainOptions { Epochs = 4, BatchSize = 16, Hyper = new() { LearningRate = 0.2 } } }, data, Quiet, "teacher.onnx");
        Assert.True(distilled.CachedLogits);
        Assert.True(distilled.ExecutorAccuracy > 0.9, $"distilled student: {distilled.ExecutorAccuracy:P1}");

        var report = SensitivityAnalysis.Run(teacher, data.Test, new SensitivityOptions { Sparsities = [0.5, 0.9] });
        Assert.Equal(SensitivityAnalysis.AccuracyMetric, report.Metric);
        Assert.Contains(report.Layers, l => l.OpType == "Gemm" && l.Points.Count == 2);
        Assert.Equal(Accuracy(teacher, data.Test), report.BaselineAccuracy, 12);
    }

    [Fact]
    public void ADynamicSequenceAxis_IsCalibratedOnOneLengthAndMeasuredOnAnother_AndFineTunedWithoutLabels()
    {
        TorchRuntime.EnsureInitialized();
        var model = Shrink.Onnx.OnnxReader.Read(TestModels.TorchPath("transformer_tiny"));
        var (short5, long9) = (AnyInputModels.Normal("input", 64, seed: 5, 5, 32), AnyInputModels.Normal("input", 64, seed: 6, 9, 32));
        Assert.True(double.IsPositiveInfinity(Fidelity(model, model, long9).SqnrDb));

        var quantized = Quantizer.Static(model, CalibrationSet.From(short5, 64));
        var q = Fidelity(model, quantized.Model, long9);
        Assert.True(q.Cosine > 0.999 && q.Top1Agreement >= 0.9 && q.SqnrDb > 27, q.ToString());  // measured: 95.3 % (61/64), 0.9997, 32.6 dB

        var pruned = new UnstructuredPrunePass(new UnstructuredPruneOptions { Sparsity = 0.6 }).Run(model, new Shrink.Passes.PassContext()).Model;
        var inputs = new TechniqueInputs { Data = new DataSplits(long9, short5), Original = model };
        var tuned = FineTuner.Run(pruned, new FineTuneOptions { Epochs = 6, LearningRate = 0.05, Batch = 16 }, inputs, Quiet, "label-free",
            ex => new ITrainingHook[] { new MaskHook(ex, PruningMasks.FromZeros(pruned)) });
        Assert.True(double.IsNaN(tuned.TestAccuracy));
        var (untuned, distilled) = (Fidelity(model, pruned, short5), Fidelity(model, tuned.Model, short5));
        // Measured: 5.0 → 5.8 dB, cosine 0.822 → 0.854, top-1 agreement 57.8 → 68.8 % with the unpruned model, on the other length.
        Assert.True(distilled.SqnrDb > untuned.SqnrDb + 0.4 && distilled.Cosine > untuned.Cosine + 0.015, $"pruned {untuned}; distilled without labels {distilled}");
    }

    [Fact]
    public void AMapOutput_IsQuantizedPrunedClusteredAndFineTunedByFidelity()
    {
        TorchRuntime.EnsureInitialized();
        var model = AnyInputModels.SegmentationHead();
        var data = new DataSplits(AnyInputModels.Normal("image", 128, seed: 7, 3, 8, 8), AnyInputModels.Normal("image", 64, seed: 8, 3, 8, 8));

        var q = Fidelity(model, Quantizer.Static(model, CalibrationSet.From(data.Train, 64)).Model, data.Test);
        Assert.Null(q.Top1Agreement);
        Assert.True(q.Cosine > 0.999 && q.SqnrDb > 30, q.ToString());  // measured: cosine 0.9999, 35.7 dB

        var prune = new PruneOptions { Sparsity = 0.5, FineTune = new FineTuneOptions { Epochs = 3, LearningRate = 0.05, Batch = 16 } };
        var tuned = Pruner.Run(model, prune, new TechniqueInputs { Data = data }, Quiet).Model;
        var untuned = Pruner.Run(model, prune with { FineTune = new FineTuneOptions() }, new TechniqueInputs { Data = data }, Quiet).Model;
        var (a, b) = (Fidelity(model, untuned, data.Test), Fidelity(model, tuned, data.Test));
        Assert.True(b.SqnrDb > a.SqnrDb + 2, $"pruned {a}; pruned and distilled without labels {b}");  // measured: 11.9 → 15.1 dB
        Assert.Equal(20.0 / 50, Shrink.Stats.ModelStats.Compute(tuned).Sparsity, 9);  // half of the 24 + 16 weights, none of the 10 biases

        var clustered = new ClusterTechnique().Run(model, new ClusterTechniqueOptions { Sharing = new ClusterOptions { Bits = 2, ConvBits = 2 }, FineTune = new FineTuneOptions { Epochs = 1, LearningRate = 0.01, Batch = 16 } },
            new TechniqueInputs { Data = data }, Quiet);
        Assert.All(Codebooks.From(clustered.Model).Weights.Values, c => Assert.InRange(c.Centroids.Length, 1, 4));

        using var dir = new TempDirectory();
        ModelSaver.Save(model, dir.File("before.onnx"));
        ModelSaver.Save(tuned, dir.File("after.onnx"));
        var c = ModelEvaluation.Compare(dir.File("before.onnx"), dir.File("after.onnx"), data.Test, Array.Empty<int>());
        Assert.Null(c.After.Accuracy);
        Assert.Equal(b.SqnrDb, Assert.Single(c.After.Fidelity!).SqnrDb, 6);

        var sensitivity = SensitivityAnalysis.Run(model, data.Test, new SensitivityOptions { Sparsities = [0.5] });
        Assert.Equal("cosine similarity", sensitivity.Metric);
        Assert.Equal(1, sensitivity.BaselineAccuracy, 9);
        Assert.All(sensitivity.Layers, l => Assert.InRange(l.Points[0].Accuracy, 0.9, 1 - 1e-6));  // measured: 0.956 and 0.985
    }

    /// <summary>image [N, 3, 8, 8] → conv 3×3 (16) → BatchNorm → ReLU → global pool → Linear (4): small, with a BatchNorm for slim.</summary>
    private static Model Classifier()
    {
        var b = new Shrink.Builder.NetworkBuilder("small", seed: 4);
        var x = b.Relu(b.BatchNorm(b.Conv(b.Input("image", 3, 8, 8), 16, 3, padding: 1)));
        b.Output(b.Linear(b.Flatten(b.GlobalAveragePool(x)), 4), "logits");
        return b.Build();
    }

    [Fact]
    public void WithoutLabels_FactorizeQatAndSlim_DistillFromTheOriginal()
    {
        TorchRuntime.EnsureInitialized();
        var model = Classifier();
        var data = new DataSplits(AnyInputModels.Normal("image", 96, seed: 11, 3, 8, 8), AnyInputModels.Normal("image", 48, seed: 12, 3, 8, 8));
        var inputs = new TechniqueInputs { Data = data };
        var notes = new List<string>();
        TechniqueSession Session() => new() { Notes = notes.Add };
        var tuning = new FineTuneOptions { Epochs = 1, LearningRate = 0.01, Batch = 16 };

        new Shrink.Training.Factorization.FactorizeTechnique().Run(model,
            new Shrink.Training.Factorization.FactorizeTechniqueOptions { LowRank = new Shrink.Passes.Factorization.LowRankOptions { Energy = null, Ratio = 0.5 }, FineTune = tuning }, inputs, Session());
        var qat = QuantizationAwareTraining.Run(model, inputs, new QatOptions { FineTune = tuning }, Session());
        Assert.True(double.IsNaN(qat.ExecutorAccuracy));
        var f = Fidelity(model, qat.Quantized.Model, data.Test);
        Assert.True(f.Top1Agreement >= 0.9 && f.Cosine > 0.99, f.ToString());
        var slim = Pruner.Run(model, new PruneOptions { Method = PruneMethod.Slim, Sparsity = 0.25, SlimEpochs = 1, ChannelMultiple = 1, FineTune = tuning }, inputs, Session());
        Assert.NotNull(slim.Artifact<KeptChannels>());

        // Each run said what it distilled from: factorize's fine-tune, qat, slim's sparsity training and its fine-tune.
        Assert.Equal(4, notes.Count(n => n.Contains("distilling from the original model (T 4, no labels: every output")));
    }

    [Fact]
    public void WithoutLabelsTrainingNeedsATeacher_AndDataThatDoesNotFitIsOneLine()
    {
        TorchRuntime.EnsureInitialized();
        using var ex = GraphExecutor.Compile(AnyInputModels.TokenBag());
        using var trainer = new Trainer(ex, new TrainOptions { Epochs = 1, BatchSize = 16 });
        var e = Assert.Throws<DataException>(() => trainer.Fit(AnyInputModels.Tokens(32, seed: 1, labelled: false)));
        Assert.StartsWith("tokens (seed 1, no labels) has no labels and no training hook supervises the model", e.Message);

        var images = AnyInputModels.Normal("image", 8, seed: 1, 3, 8, 8);
        var misfit = Assert.Throws<DataException>(() => trainer.Fit(images));
        Assert.Equal($"{images.Name} has no input 'input_ids' (int64[batch,seq]) that the model takes; it has image; give one array per model input, named like it", misfit.Message);

        var label = Assert.Throws<OptionsException>(() => FineTuner.Run(AnyInputModels.TokenBag(), new FineTuneOptions { Epochs = 1 },
            new TechniqueInputs { Data = new DataSplits(AnyInputModels.Tokens(32, 1, labelled: false), AnyInputModels.Tokens(8, 2, labelled: false)) }, Quiet, "fine-tune"));
        Assert.Contains("has no labels, and fine-tuning without labels distills from the original model, which the inputs do not hold", label.Message);
    }
}
