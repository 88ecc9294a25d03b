using Shrink.Data;
using Shrink.Techniques;

namespace Shrink.Training;

/// <summary>Runs a <see cref="Trainer"/> inside a <see cref="TechniqueSession"/>: its progress, epochs and notices go to the session, its token cancels.</summary>
internal static class TrainerSessions
{
    /// <summary>
    /// <see cref="Trainer.Fit"/> with the trainer's events forwarded to <paramref name="session"/> under <paramref name="label"/>;
    /// cancelling the session's token writes a checkpoint (with a run directory) and throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public static IReadOnlyList<EpochMetrics> FitIn(this Trainer trainer, TechniqueSession session, string label, Dataset train, Dataset? test)
    {
        var epochs = trainer.Options.Epochs;
        if (session.Progress is { } progress)
            trainer.Progress += p => progress(new TechniqueProgress(label, p.Epoch, p.Epochs, p.Batch, p.Batches, p.Loss, p.Accuracy, p.SamplesPerSecond));
        if (session.EpochEnd is { } epochEnd)
            trainer.EpochEnd += m => epochEnd(new TechniqueEpoch(label, m.Epoch, epochs, m.TrainLoss, m.TrainAccuracy, m.TestAccuracy, m.LearningRate, m.Seconds, m.SamplesPerSecond));
        trainer.Notice += session.Note;
        return trainer.Fit(train, test, session.Cancel);
    }
}
