using Shrink.Data;
using Shrink.Ir;
using Shrink.Passes.Quantization;
using Shrink.Techniques;
using Shrink.Training.Execution;

namespace Shrink.Training.Distillation;

/// <summary>
/// The options of <c>distill</c>: how the student learns from the teacher (<see cref="Distillation"/>), how it is
/// trained (<see cref="Training"/>: the options of <c>shrink train</c>), and whether the teacher must be trained first.
/// </summary>
public sealed record DistillTechniqueOptions
{
    public DistillationOptions Distillation { get; init; } = new();

    /// <summary>
    /// The student's training. Its <see cref="TrainOptions.LabelLossWeight"/> is set to 1 − α, and its run directory
    /// and resume flag come from the session (<see cref="TechniqueSession.RunDirectory"/>, <see cref="TechniqueSession.Resume"/>).
    /// </summary>
    public TrainOptions Training { get; init; } = new();

    /// <summary>Epochs to train the teacher first (an untrained teacher, such as a new zoo model), with the student's options and the labels only; null: the teacher is trained.</summary>
    public int? TeacherEpochs { get; init; }

    public DistillTechniqueOptions Validate()
    {
        Distillation.Validate();
        if (TeacherEpochs is < 1) throw OptionsException.For("TeacherEpochs", $"must be at least 1, got {TeacherEpochs}");
        return this;
    }

    /// <summary>The student's trainer options in <paramref name="session"/>.</summary>
    internal TrainOptions StudentTraining(TechniqueSession session) => (Training with
    {
        LabelLossWeight = 1 - Distillation.Alpha, RunDirectory = session.RunDirectory, Resume = session.Resume,
    }).Validate();
}

/// <summary>What <see cref="Distiller.Distill"/> knows once the teacher is ready and before the first epoch.</summary>
public sealed record DistillStart(bool CachedLogits, double PrepareSeconds);

/// <summary>The distilled student, the executor's test accuracy after the last epoch (null without labels), whether the teacher's logits were cached, and the epochs.</summary>
public sealed record DistillResult(Model Model, double? ExecutorAccuracy, bool CachedLogits, IReadOnlyList<EpochMetrics> History);

/// <summary>
/// Knowledge distillation as library calls: <see cref="Check"/> the two models against the data,
/// <see cref="TrainTeacher"/> when the teacher is untrained, then <see cref="Distill"/> the student
/// (the trainer with a <see cref="DistillationHook"/>, checkpointed in the session's run directory).
/// </summary>
public static class Distiller
{
    /// <summary>Refuses, before any training, a teacher or a student that does not take the data (one line from <see cref="DataBinding"/>).</summary>
    public static void Check(Model student, Model teacher, DataSplits data)
    {
        foreach (var split in new[] { data.Train, data.Test })
        {
            DataBinding.For(teacher, split, "the teacher");
            DataBinding.For(student, split, "the student");
        }
    }

    /// <summary>
    /// Trains an untrained teacher for <paramref name="epochs"/> epochs with the student's <paramref name="training"/> options
    /// on the labels only, checkpointed in the session's run directory's <c>teacher/</c> (epochs reported under the label
    /// "teacher"; a resumed session continues it, or gives its weights back when it had finished); returns the trained copy.
    /// </summary>
    public static Model TrainTeacher(Model teacher, TrainOptions training, int epochs, DataSplits data, TechniqueSession session)
    {
        if (data.Train.ClassCount is null)
            throw new DataException($"{data.Train.Name} has no labels: an untrained teacher learns from labels; give labelled data or a trained teacher");
        TorchRuntime.EnsureInitialized();
        var options = TrainingSession.InSession(training with { Epochs = epochs, LabelLossWeight = 1 }, session, "teacher").Validate();
        using var executor = GraphExecutor.Compile(teacher);
        using var trainer = new Trainer(executor, options);
        TrainingSession.Fit(trainer, data.Train, data.Test, session, "teacher");
        return executor.Export();
    }

    /// <summary>
    /// Trains a copy of <paramref name="student"/> on <paramref name="teacher"/>'s soft outputs (and features) and the labels;
    /// <paramref name="started"/> hears whether the teacher's logits were cached once the hook is ready. Checkpoints go to
    /// the session's run directory (a cancelled session stops at the next batch: <see cref="TrainingInterruptedException"/>). The result carries
    /// the metadata <c>shrink.distilled</c> naming <paramref name="teacherName"/> and the settings.
    /// </summary>
    public static DistillResult Distill(Model student, Model teacher, DistillTechniqueOptions options, DataSplits data, TechniqueSession session,
        string teacherName, Action<DistillStart>? started = null)
    {
        var distill = options.Validate().Distillation;
        var training = options.StudentTraining(session);
        TorchRuntime.EnsureInitialized();
        using var executor = GraphExecutor.Compile(student);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var hook = new DistillationHook(executor, teacher, distill, data.Train, training.Seed);
        started?.Invoke(new DistillStart(hook.Cached, clock.Elapsed.TotalSeconds));
        using var trainer = new Trainer(executor, training, new ITrainingHook[] { hook });
        TrainingSession.Fit(trainer, data.Train, data.Test, session);  // the technique's own training: no label, the run directory itself
        double? accuracy = data.Test.ClassCount is null ? null : trainer.Evaluate(data.Test).Accuracy;
        var distilled = executor.Export();
        distilled.SetMetadata("shrink.distilled", $"from {Path.GetFileName(teacherName)}: T {distill.Temperature:G} alpha {distill.Alpha:G}, {training.Epochs} epochs seed {training.Seed}");
        return new DistillResult(distilled, accuracy, hook.Cached, trainer.History.ToList());
    }
}

/// <summary>
/// <c>distill</c>: the model is the student; <see cref="TechniqueInputs.Teacher"/> the teacher (trained first for
/// <see cref="DistillTechniqueOptions.TeacherEpochs"/> when given); trains on <see cref="TechniqueInputs.Data"/>.
/// Needs data and training; keeps the student's architecture; runs in ONNX Runtime.
/// </summary>
public sealed class DistillTechnique : Technique<DistillTechniqueOptions>
{
    public override string Id => "distill";
    public override string Summary => "train the model on a teacher's soft outputs and features (knowledge distillation)";

    public override IReadOnlyList<string> Check(Model model, DistillTechniqueOptions options, TechniqueInputs inputs)
    {
        options.Validate();
        var reasons = new List<string>();
        if (inputs.Teacher is null) reasons.Add("distillation needs a teacher model in the inputs");
        if (inputs.Data is null) reasons.Add("distillation trains on data (labelled, or inputs only); give the technique a data set");
        return reasons;
    }

    public override TechniqueResult Run(Model model, DistillTechniqueOptions options, TechniqueInputs inputs, TechniqueSession session)
    {
        var data = inputs.RequireData("distillation");
        var teacher = inputs.Teacher ?? throw new OptionsException("distillation needs a teacher model in the inputs");
        Distiller.Check(model, teacher, data);
        if (options.Validate().TeacherEpochs is { } epochs) teacher = Distiller.TrainTeacher(teacher, options.Training, epochs, data, session);
        var result = Distiller.Distill(model, teacher, options, data, session, inputs.TeacherSource);
        var notes = new[]
        {
            $"distilled from {inputs.TeacherSource}: {(result.ExecutorAccuracy is { } a ? $"executor test accuracy {a:P2}" : "no labels")} after {result.History.Count} epochs " +
            $"(teacher logits {(result.CachedLogits ? "cached" : "computed at every step")})",
        };
        return new TechniqueResult(result.Model, Array.Empty<IArtifact>(), notes);
    }
}
