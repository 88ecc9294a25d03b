using System.Text;
using Shrink.Data;
using Shrink.Techniques;

namespace Shrink.Training;

/// <summary>
/// The one training session of Shrink, shared by <c>train</c>, <c>distill</c> and every fine-tuning of a technique:
/// a <see cref="TechniqueSession"/> drives the <see cref="Trainer"/>. Its token stops training at the next batch
/// with a checkpoint (<see cref="TrainingInterruptedException"/>); its <see cref="TechniqueSession.Progress"/> and
/// <see cref="TechniqueSession.EpochEnd"/> receive every step and epoch under the run's label; its notes receive the
/// trainer's notices. Its run directory holds one sub-directory per training run, named from the run's label, each
/// with a checkpoint per epoch, so a technique with several runs (rounds of a schedule, slim then fine-tune, a teacher
/// then a student) resumes each where it stood: finished runs give back their weights, the interrupted one continues
/// at its batch, later ones start afresh.
/// </summary>
public static class TrainingSession
{
    /// <summary>
    /// The options of the training run called <paramref name="label"/> in <paramref name="session"/>: checkpoints in
    /// the session's run directory's sub-directory for the label (none without a run directory), resumed when the
    /// session resumes and that sub-directory exists.
    /// </summary>
    public static TrainOptions InSession(TrainOptions options, TechniqueSession session, string label) =>
        SubRun(options with { RunDirectory = session.RunDirectory, Resume = session.Resume && session.RunDirectory is not null }, label);

    /// <summary>
    /// The options of a training run called <paramref name="label"/> inside the run of <paramref name="options"/> (a
    /// distillation's teacher): its run directory's sub-directory for the label, resumed when the outer run resumes
    /// and the sub-directory exists (a run the interrupted one never reached starts afresh).
    /// </summary>
    public static TrainOptions SubRun(TrainOptions options, string label)
    {
        if (options.RunDirectory is not { } outer) return options with { Resume = false };
        var directory = Path.Combine(outer, DirectoryName(label));
        return options with { RunDirectory = directory, Resume = options.Resume && Directory.Exists(directory) };
    }

    /// <summary>
    /// The sub-directory name of a run label: lower case, every run of other characters than letters and digits one
    /// hyphen (<c>round 2/3 fine-tune</c> → <c>round-2-3-fine-tune</c>).
    /// </summary>
    public static string DirectoryName(string label)
    {
        var name = new StringBuilder();
        foreach (var c in label.ToLowerInvariant())
        {
            if (c is >= 'a' and <= 'z' or >= '0' and <= '9') name.Append(c);
            else if (name.Length > 0 && name[^1] != '-') name.Append('-');
        }
        var result = name.ToString().TrimEnd('-');
        return result.Length > 0 ? result : throw new ArgumentException($"the run label '{label}' has no letter or digit to name its directory", nameof(label));
    }

    /// <summary>
    /// Fits <paramref name="trainer"/> in the session: progress after every step and each finished epoch go to the
    /// session labelled <paramref name="label"/> (empty for a command's own training), the trainer's notices to its
    /// notes, and its token interrupts training (a checkpoint, then <see cref="TrainingInterruptedException"/>).
    /// </summary>
    public static IReadOnlyList<EpochMetrics> Fit(Trainer trainer, IDataSource train, IDataSource? test, TechniqueSession session, string label = "")
    {
        var epochs = trainer.Options.Epochs;
        Action<TrainProgress> progress = p =>
            session.Progress?.Invoke(new TechniqueProgress(label, p.Epoch, p.Epochs, p.Batch, p.Batches, p.Loss, p.Accuracy, p.SamplesPerSecond));
        Action<EpochMetrics> epochEnd = m => session.EpochEnd?.Invoke(new TechniqueEpoch(label, m.Epoch, epochs, m.TrainLoss, m.TrainAccuracy,
            m.TestLoss, m.TestAccuracy, m.LearningRate, m.Seconds, m.SamplesPerSecond));
        Action<string> notice = session.Note;
        if (session.Progress is not null) trainer.Progress += progress;
        trainer.EpochEnd += epochEnd;
        trainer.Notice += notice;
        try
        {
            return trainer.Fit(train, test, session.Cancel);
        }
        finally
        {
            trainer.Progress -= progress;
            trainer.EpochEnd -= epochEnd;
            trainer.Notice -= notice;
        }
    }

    /// <summary>Whether a run directory holds a checkpoint, of its own or of one of its runs' sub-directories.</summary>
    public static bool HoldsRun(string runDirectory) =>
        Checkpoint.Exists(runDirectory) || Directory.Exists(runDirectory) && Directory.EnumerateDirectories(runDirectory).Any(Checkpoint.Exists);

    /// <summary>
    /// Removes what training wrote in a run directory (checkpoints and metrics, in it and in its runs'
    /// sub-directories, not followed through links), then each directory left empty; anything else in them stays, with its directory.
    /// </summary>
    public static void Remove(string runDirectory)
    {
        if (!Directory.Exists(runDirectory)) return;
        RunOutput.Write(runDirectory, "the trained model is written; remove the run directory by hand", () =>
        {
            var runs = Directory.EnumerateDirectories(runDirectory).Where(d => new DirectoryInfo(d).LinkTarget is null);
            foreach (var directory in runs.Append(runDirectory).ToList())
            {
                foreach (var file in new[] { Checkpoint.PathIn(directory), Checkpoint.PreviousIn(directory), Path.Combine(directory, "metrics.json") })
                    File.Delete(file);
                if (!Directory.EnumerateFileSystemEntries(directory).Any()) Directory.Delete(directory);
            }
        });
    }
}
