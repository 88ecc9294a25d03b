using Shrink.Training;
using Xunit;

namespace Shrink.Cli.Tests;

/// <summary>
/// The advice of a refused run (<see cref="TrainOptions.Resume"/>, <see cref="TrainOptions.RunDirectory"/> in the
/// library's messages) is printed by <c>shrink train</c> as --resume and --run-dir.
/// </summary>
[Collection("torch")]
public class RunAdviceCliTests
{
    private static CliRunner.Result Train(string runDirectory, string outPath, params string[] extra) =>
        CliRunner.Run(new[] { "train", "--model", "lenet300", "--data", "embedded", "--limit", "64", "--batch", "64", "--epochs", "1",
            "--run-dir", runDirectory, "--out", outPath }.Concat(extra).ToArray());

    [Fact]
    public void ADamagedCheckpointAdvisesANewRunDir()
    {
        using var dir = new TempDirectory();
        var run = Directory.CreateDirectory(dir.File("m.run")).FullName;
        File.WriteAllText(Checkpoint.PathIn(run), "not a checkpoint");

        CliRunner.AssertBadInput(Train(run, dir.File("m.onnx"), "--resume"),
            $"error: checkpoint '{Checkpoint.PathIn(run)}' is not a Shrink checkpoint; delete it (or use a new --run-dir) to train afresh");
        Assert.False(File.Exists(dir.File("m.onnx")));
    }

    [Fact]
    public void ACheckpointThatCannotBeWrittenAdvisesResume()
    {
        using var dir = new TempDirectory();
        var run = Directory.CreateDirectory(dir.File("m.run")).FullName;
        Directory.CreateDirectory(Checkpoint.PathIn(run));  // a directory where the checkpoint goes

        var r = Train(run, dir.File("m.onnx"));
        CliRunner.AssertBadInput(r, $"error: the checkpoint '{Checkpoint.PathIn(run)}' is a directory;");
        Assert.EndsWith("; the checkpoints already in the run directory are kept; mend this and continue with --resume", r.Err.Trim());
        Assert.False(File.Exists(dir.File("m.onnx")));
    }
}
