using Shrink.Data;
using Shrink.Training.Execution;
using Xunit;

namespace Shrink.Training.Tests.Security;

/// <summary>A checkpoint the environment refuses to write: the trainer names the path and the cause in one line.</summary>
[Collection("torch")]
public class TrainOutputFailureTests
{
    /// <summary>A hook that replaces the run directory by a file at the end of the epoch, before its checkpoint is written.</summary>
    private sealed class BlockRunDirectory : ITrainingHook
    {
        private readonly string _dir;
        public BlockRunDirectory(string dir) => _dir = dir;
        public void OnEpochEnd(EpochMetrics metrics)
        {
            Directory.Delete(_dir, recursive: true);
            File.WriteAllText(_dir, "");
        }
    }

    [Fact]
    public void AFailedCheckpointWriteNamesThePathAndTheCause()
    {
        using var dir = new TempDirectory();
        var run = dir.File("r.run");
        using var ex = GraphExecutor.Compile(TrainerTests.SmallNet());
        using var t = new Trainer(ex, new TrainOptions { Epochs = 1, BatchSize = 64, RunDirectory = run, EvaluateEachEpoch = false },
            new[] { new BlockRunDirectory(run) });
        var e = Assert.Throws<RunOutputException>(() => t.Fit(Shrink.Data.FashionMnist.LoadEmbedded().Train.Take(64)));
        Assert.Contains($"'{Checkpoint.PathIn(run)}'", e.Message);
        Assert.Contains("continue with resume", e.Message);  // the option, in words; the CLI prints --resume
        Assert.DoesNotContain("--", e.Message);
        Assert.Equal("Resume", Assert.Single(e.Wording.Options).Property);
        Assert.DoesNotContain('\n', e.Message);
    }
}
