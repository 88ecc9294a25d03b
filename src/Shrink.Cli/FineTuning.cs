using Shrink.Data;
using Shrink.Ir;
using Shrink.Training;
using Shrink.Training.Distillation;
using Shrink.Training.Execution;
using Shrink.Training.Optim;

namespace Shrink.Cli;

/// <summary>
/// Fine-tuning after (or, for AGP and QAT, during) compression: SGD momentum 0.9 with a cosine schedule;
/// with a <see cref="Teacher"/>, the loss is the distillation loss from it (for example the uncompressed model).
/// </summary>
internal sealed record FineTuneSettings(int Epochs, double LearningRate, int Batch, int Seed)
{
    public TeacherSettings? Teacher { get; init; }

    /// <summary>The checks of a command whose fine-tuning is optional (--finetune-epochs 0 by default) and trains on --data.</summary>
    public FineTuneSettings CheckOptional(bool hasData)
    {
        if (Epochs < 0) throw new OptionsException($"--finetune-epochs must be 0 or more, got {Epochs}");
        if (Epochs > 0 && !hasData) throw new OptionsException("--finetune-epochs needs --data (fine-tuning trains on it)");
        if (Teacher is not null && Epochs == 0) throw new OptionsException("--teacher distills while fine-tuning; give --finetune-epochs (at least 1) and --data");
        return this;
    }
}

/// <summary>A teacher to distill from while fine-tuning.</summary>
internal sealed record TeacherSettings(string Source, Model Model, DistillationOptions Options);

/// <summary>The fine-tuning that pruning and quantization-aware training share.</summary>
internal static class FineTuning
{
    /// <summary>Trains a model (with an optional hook made for its executor) and returns the trained copy.</summary>
    public static Model Run(Model model, FineTuneSettings tuning, int seed, string label, DatasetPair sets, CliContext cli,
        Func<GraphExecutor, ITrainingHook>? hook = null) => Run(model, tuning, seed, label, sets, cli, hook, out _);

    /// <summary>As <see cref="Run(Model, FineTuneSettings, int, string, DatasetPair, CliContext, Func{GraphExecutor, ITrainingHook}?)"/>, also giving the executor's test accuracy at the end.</summary>
    public static Model Run(Model model, FineTuneSettings tuning, int seed, string label, DatasetPair sets, CliContext cli,
        Func<GraphExecutor, ITrainingHook>? hook, out double testAccuracy) =>
        Run(model, tuning, seed, label, sets, cli, hook is null ? null : ex => new[] { hook(ex) }, out testAccuracy);

    /// <summary>Trains with several hooks made for the executor (run in order), giving the executor's test accuracy at the end.</summary>
    public static Model Run(Model model, FineTuneSettings tuning, int seed, string label, DatasetPair sets, CliContext cli,
        Func<GraphExecutor, IReadOnlyList<ITrainingHook>>? hooks, out double testAccuracy)
    {
        TorchRuntime.EnsureInitialized();
        using var executor = GraphExecutor.Compile(model);
        var hs = (hooks?.Invoke(executor) ?? Array.Empty<ITrainingHook>()).ToList();
        try
        {
            var options = Options(tuning.Epochs, tuning.Batch, seed, tuning.LearningRate);
            if (tuning.Teacher is { } teacher)
            {
                var distill = new DistillationHook(executor, teacher.Model, teacher.Options, sets.Train, seed);
                hs.Add(distill);
                options = options with { LabelLossWeight = distill.LabelLossWeight };
                cli.Note($"{label}: distilling from {teacher.Source} (T {teacher.Options.Temperature:G}, α {teacher.Options.Alpha:G}; teacher logits {(distill.Cached ? "cached" : "computed at every step")})");
            }
            using var trainer = new Trainer(executor, options, hs.Count == 0 ? null : hs.ToArray());
            double accuracy = double.NaN;
            trainer.EpochEnd += e =>
            {
                accuracy = e.TestAccuracy ?? double.NaN;
                cli.Note($"{label} epoch {e.Epoch}/{tuning.Epochs}: loss {e.TrainLoss:F4}, test {e.TestAccuracy:P2}, {e.Seconds:F1} s");
            };
            trainer.Fit(sets.Train, sets.Test);
            testAccuracy = accuracy;
            return executor.Export();
        }
        finally
        {
            foreach (var h in hs) (h as IDisposable)?.Dispose();
        }
    }

    private static TrainOptions Options(int epochs, int batch, int seed, double lr) => new()
    {
        Epochs = epochs, BatchSize = batch, Seed = seed,
        Hyper = new OptimizerOptions { LearningRate = lr }, Schedule = new LearningRateSchedule { Kind = "cosine" },
    };
}
