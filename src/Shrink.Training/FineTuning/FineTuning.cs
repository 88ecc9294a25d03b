using Shrink.Data;
using Shrink.Ir;
using Shrink.Techniques;
using Shrink.Training.Distillation;
using Shrink.Training.Execution;
using Shrink.Training.Optim;

namespace Shrink.Training.FineTuning;

/// <summary>
/// How a compression technique fine-tunes after (or, for AGP and QAT, during) compression: SGD momentum 0.9
/// with a cosine schedule; with <see cref="Distillation"/> settings, the loss is the distillation loss from it (for
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

    /// <summary>The checks of a technique whose fine-tuning is optional and trains on data (labelled, or inputs only: it then distills from the original).</summary>
    public FineTuneOptions CheckOptional(bool hasData, bool hasTeacher = false)
    {
        if (Distillation is not null && !hasTeacher) throw new OptionsException("distillation while fine-tuning needs a teacher model in the inputs");
        Distillation?.Validate();
        if (Epochs < 0) throw new OptionsException($"fine-tuning epochs must be 0 or more, got {Epochs}");
        if (Epochs > 0 && !hasData) throw new OptionsException("fine-tuning trains on data; give data, or no fine-tuning epochs");
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

/// <summary>The result of one fine-tuning run: the trained model and the executor's test accuracy after the last epoch (NaN on data without labels).</summary>
public sealed record FineTuneResult(Model Model, double TestAccuracy, IReadOnlyList<EpochMetrics> History);

/// <summary>The fine-tuning every compression technique shares (pruning, QAT, clustering, factorization, slimming).</summary>
public static class FineTuner
{
    /// <summary>Run directories already given to a fine-tuning of each session: two runs of one session must not share one.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TechniqueSession, HashSet<string>> Claimed = new();

    /// <summary>
    /// Trains a copy of <paramref name="model"/> on the inputs' data with the hooks made for its executor
    /// (run in order), distilling from the inputs' teacher when the options say so, and returns the trained model.
    /// <paramref name="label"/> names the run in notes and progress ("round 2/3 fine-tune") and, in the session's
    /// run directory, the sub-directory it checkpoints into every epoch (<see cref="TrainingSession.DirectoryName"/>;
    /// each run of a session needs its own label). When the session resumes, a run finished there gives back its
    /// trained weights without training, an interrupted one continues at its epoch and batch, and a run with other
    /// options, hooks or another model is refused. <paramref name="seed"/> overrides the options' seed (rounds of a
    /// schedule use their own). On data without labels it distills from the inputs' teacher, else from
    /// <see cref="TechniqueInputs.Original"/> (the model before compression), with the options' distillation settings or
    /// the defaults: every output, T²·KL for a classifier, MSE for any other.
    /// </summary>
    public static FineTuneResult Run(Model model, FineTuneOptions options, TechniqueInputs inputs, TechniqueSession session, string label,
        Func<GraphExecutor, IReadOnlyList<ITrainingHook>>? hooks = null, int? seed = null)
    {
        var data = inputs.RequireData(label);
        Claim(session, label);
        TorchRuntime.EnsureInitialized();
        using var executor = GraphExecutor.Compile(model);
        var hs = (hooks?.Invoke(executor) ?? Array.Empty<ITrainingHook>()).ToList();
        try
        {
            var trainOptions = TrainingSession.InSession(options.TrainOptions(seed ?? options.Seed), session, label);
            if (Distillation(options, data) is { } distillation)
                trainOptions = trainOptions with { LabelLossWeight = AddTeacher(executor, hs, distillation, inputs, data, session, label, seed ?? options.Seed) };
            using var trainer = new Trainer(executor, trainOptions, hs.Count == 0 ? null : hs.ToArray());
            trainer.EpochEnd += e =>
                session.Note($"{label} epoch {e.Epoch}/{options.Epochs}: loss {e.TrainLoss:F4}, {(e.TestAccuracy is { } a ? $"test {a:P2}" : "no labels")}, {e.Seconds:F1} s");
            if (trainOptions.Resume) session.Note($"{label}: resuming from {trainOptions.RunDirectory}");
            var history = TrainingSession.Fit(trainer, data.Train, data.Test, session, label);
            return new FineTuneResult(executor.Export(), history.LastOrDefault()?.TestAccuracy ?? double.NaN, history.ToList());
        }
        finally
        {
            foreach (var h in hs) (h as IDisposable)?.Dispose();
        }
    }

    /// <summary>The distillation of a run: the options', else the defaults on data without labels (null: labels only).</summary>
    private static DistillationOptions? Distillation(FineTuneOptions options, DataSplits data) =>
        options.Distillation ?? (data.Train.ClassCount is null ? new DistillationOptions() : null);

    /// <summary>
    /// Adds the distillation hook from the inputs' teacher (without labels and without a teacher, from the original model);
    /// returns the weight of the labels' loss.
    /// </summary>
    private static double AddTeacher(GraphExecutor executor, List<ITrainingHook> hooks, DistillationOptions distillation, TechniqueInputs inputs,
        DataSplits data, TechniqueSession session, string label, int seed)
    {
        var labelFree = data.Train.ClassCount is null;
        var teacher = inputs.Teacher ?? (labelFree ? inputs.Original : null) ?? throw new OptionsException(labelFree
            ? $"{label}: {data.Train.Name} has no labels, and fine-tuning without labels distills from the original model, which the inputs do not hold; give labelled data or a teacher"
            : $"{label}: distillation needs a teacher model in the inputs");
        var source = inputs.Teacher is null ? "the original model" : inputs.TeacherSource;
        var distill = new DistillationHook(executor, teacher, distillation, data.Train, seed);
        hooks.Add(distill);
        var how = labelFree ? "no labels: every output, T²·KL on classifiers, MSE on the others" : $"α {distillation.Alpha:G}";
        session.Note($"{label}: distilling from {source} (T {distillation.Temperature:G}, {how}; teacher logits {(distill.Cached ? "cached" : "computed at every step")})");
        return distill.LabelLossWeight;
    }

    private static void Claim(TechniqueSession session, string label)
    {
        var name = TrainingSession.DirectoryName(label);
        var claimed = Claimed.GetOrCreateValue(session);
        lock (claimed)
            if (!claimed.Add(name))
                throw new ArgumentException($"a fine-tuning of this session already ran as '{name}'; give each run of a session its own label", nameof(label));
    }
}
