using Shrink.Text;
using Shrink.Training;
using Xunit;

namespace Shrink.Training.Tests;

/// <summary>
/// What a refused checkpoint advises names the run's options (<see cref="TrainOptions.Resume"/>,
/// <see cref="TrainOptions.RunDirectory"/>) in words; the CLI prints them as --resume and --run-dir.
/// </summary>
public class CheckpointAdviceTests
{
    private static readonly OptionNaming Marked = o => $"<{o.Property}>";

    private static readonly CheckpointRun Run = new()
    {
        ModelHash = "0", Options = new Dictionary<string, string>(), Epochs = 1, Batches = 1, BatchSize = 1,
        Required = new Dictionary<string, CheckpointTensorSpec>(),
    };

    private static void NamesNoFlag(ShrinkUserException e, params string[] properties)
    {
        Assert.DoesNotContain("--", e.Message);
        Assert.Equal(properties, e.Wording.Options.Select(o => o.Property));
        Assert.Equal(e.Message, e.Wording.ToString());
    }

    [Fact]
    public void NoCheckpointToResumeFromNamesResume()
    {
        using var dir = new TempDirectory();
        var path = dir.File("checkpoint.bin");
        var e = Assert.Throws<OptionsException>(() => Checkpoint.Load(path, Run));
        Assert.Equal($"no checkpoint at {path}; start the run without resume", e.Message);
        NamesNoFlag(e, "Resume");

        var none = Assert.Throws<OptionsException>(() => CheckpointResume.Choose(dir.File("gone.run"), Run, null));
        Assert.Equal($"no checkpoint at {Checkpoint.PathIn(dir.File("gone.run"))}; start the run without <Resume>", none.Wording.Render(Marked));
    }

    [Fact]
    public void ADamagedCheckpointNamesTheRunDirectory()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Checkpoint.PathIn(dir.Path), "not a checkpoint");
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(Checkpoint.PathIn(dir.Path), Run));
        Assert.Equal($"checkpoint '{Checkpoint.PathIn(dir.Path)}' is not a Shrink checkpoint; delete it (or use a new run directory) to train afresh", e.Message);
        NamesNoFlag(e, "RunDirectory");
        Assert.EndsWith("(or use a new <RunDirectory>) to train afresh", e.Wording.Render(Marked));

        File.WriteAllText(Checkpoint.PreviousIn(dir.Path), "SHRINK");
        var both = Assert.Throws<CheckpointException>(() => CheckpointResume.Choose(dir.Path, Run, null));
        Assert.EndsWith($"the previous one '{Checkpoint.PreviousIn(dir.Path)}' is corrupt (truncated to 6 bytes) too; delete the run directory (or use a new run directory) to train afresh",
            both.Message);
        NamesNoFlag(both, "RunDirectory");
    }

    [Fact]
    public void ACheckpointTooLargeForTheRunNamesTheRunDirectory()
    {
        using var dir = new TempDirectory();
        using (var f = File.Create(dir.File("c.bin"))) f.SetLength(Run.MaxFileBytes + 1);
        NamesNoFlag(Assert.Throws<CheckpointException>(() => Checkpoint.Load(dir.File("c.bin"), Run)), "RunDirectory");
    }
}
