using Shrink.Data;
using Shrink.Ir;
using Shrink.Techniques;
using Shrink.Training.Distillation;
using Shrink.Training.Execution;
using Shrink.Training.Optim;

namespace Shrink.Training.FineTuning;

/// <summary>
/// How a compression technique fine-tunes after (or, for AGP and QAT, during) compression: SGD momentum 0.9
/// with a cosine schedule; with a <see cref="Teacher"/>, the loss is the distillation loss from it (for
/// example the uncompressed model). The teacher model itself is an input (<see cref="TechniqueInputs.Teacher"/>):
/// options hold only what can be written in a recipe.
/// </summary>
public sealed record FineTuneOptions
{
    /// <summary>Epochs of fine-tuning; 0 skips it.</summary>
    public int Epochs { get; init; }

    public double LearningRate { get; init; } = 0.01;
    public int Batch { get; init; } = 128;
    public int Seed { get; init; }

    /// <summary>How to distill from the inputs' teacher while fine-tuning; null trains on the labels only.</summary>
    public DistillationOptions? Distillation { get; init; }

    /// <summary>The checks of a technique whose fine-tuning is optional and trains on labelled data.</summary>
    public FineTuneOptions CheckOptional(bool hasData, bool hasTeacher = false)
    {
        if (Distillation is not null && !hasTeacher) throw new OptionsException("distillation while fine-tuning needs a teacher model in the inputs");
        Distillation?.Validate();
        if (Epochs < 0) throw new OptionsException($"fine-tuning epochs must be 0 or more, got {Epochs}");
        if (Epochs > 0 && !hasData) throw new OptionsException("fine-tuning trains on labelled data; give data, or no fine-tuning epochs");
        if (Distillation is not null && Epochs == 0) throw new OptionsException("a teacher distills while fine-tuning; give at least 1 fine-tuning epoch and data");
        if (Epochs > 0 && !(LearningRate > 0)) throw new OptionsException($"the fine-tuning learning rate must be positive, got {LearningRate}");
        if (Epochs > 0 && Batch < 1) throw new OptionsException($"the fine-tuning batch must be at least 1, got {Batch}");
        return this;
    }

    /// <summary>The trainer options of one fine-tuning run.</summary>
    internal TrainOptions TrainOptions(int seed) => new()
    {
        Epochs = Epochs, BatchSize = Batch, Seed = seed,
        Hyper = new OptimizerOptions { LearningRate = LearningRate }, Schedule = new LearningRateSchedule { Kind = "cosine" },
    };
}

/// <summary>The result of one fine-tuning run: the trained model and the executor's test accuracy after the last epoch.</summary>
public sealed record FineTuneResult(Model Model, double TestAccuracy, IReadOnlyList<EpochMetrics> History);

/// <summary>The fine-tuning every compression technique shares (pruning, QAT, clustering, factorization, slimming).</summary>
public static class FineTuner
{
    /// <summary>
    /// Trains a copy of <paramref name="model"/> on the inputs' data with the hooks made for its executor
    /// (run in order), distilling from the inputs' teacher when the options say so, and returns the trained model. <paramref name="label"/> names the run in notes ("round 2/3
    /// fine-tune"); <paramref name="seed"/> overrides the options' seed (rounds of a schedule use their own).
    /// </summary>
    public static FineTuneResult Run(Model model, FineTuneOptions options, TechniqueInputs inputs, TechniqueSession session, string label,
        Func<GraphExecutor, IReadOnlyList<ITrainingHook>>? hooks = null, int? seed = null)
    {
        var data = inputs.RequireData(label);
        TorchRuntime.EnsureInitialized();
        using var executor = GraphExecutor.Compile(model);
        var hs = (hooks?.Invoke(executor) ?? Array.Empty<ITrainingHook>()).ToList();
        try
        {
            var trainOptions = options.TrainOptions(seed ?? options.Seed);
            if (options.Distillation is { } distillation)
            {
                var teacher = inputs.Teacher ?? throw new OptionsException($"{label}: distillation needs a teacher model in the inputs");
                var distill = new DistillationHook(executor, teacher, distillation, data.Train, seed ?? options.Seed);
                hs.Add(distill);
                trainOptions = trainOptions with { LabelLossWeight = distill.LabelLossWeight };
                session.Note($"{label}: distilling from {inputs.TeacherSource} (T {distillation.Temperature:G}, α {distillation.Alpha:G}; teacher logits {(distill.Cached ? "cached" : "computed at every step")})");
            }
            using var trainer = new Trainer(executor, trainOptions, hs.Count == 0 ? null : hs.ToArray());
            double accuracy = double.NaN;
            trainer.EpochEnd += e =>
            {
                accuracy = e.TestAccuracy ?? double.NaN;
                session.Note($"{label} epoch {e.Epoch}/{options.Epochs}: loss {e.TrainLoss:F4}, test {e.TestAccuracy:P2}, {e.Seconds:F1} s");
            };
            var history = trainer.Fit(data.Train, data.Test, session.Cancel);
            return new FineTuneResult(executor.Export(), accuracy, history.ToList());
        }
        finally
        {
            foreach (var h in hs) (h as IDisposable)?.Dispose();
        }
    }
}
