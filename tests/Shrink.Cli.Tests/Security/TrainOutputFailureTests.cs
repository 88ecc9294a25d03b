using Shrink.Training;
using Xunit;

namespace Shrink.Cli.Tests.Security;

/// <summary>
/// Writes the environment refuses (a path through a file, a name too long, a run directory gone):
/// one line naming the path and the cause, exit code 2, and the trained state kept so that
/// <c>--resume</c> writes the model without training again. (Tests run as root, where chmod does not
/// stop writes, so the refusals are made with paths instead.)
/// </summary>
[Collection("torch")]
public class TrainOutputFailureTests
{
    private static CliRunner.Result Train(string runDirectory, string outPath, params string[] extra) =>
        CliRunner.Run(new[] { "train", "--model", "lenet300", "--data", "embedded", "--limit", "256", "--batch", "64", "--epochs", "1",
            "--run-dir", runDirectory, "--out", outPath }.Concat(extra).ToArray());

    [Theory]
    [InlineData("parent is a file", "not a directory")]
    [InlineData("name too long", "255-byte limit")]
    public void AnOutputThatCannotBeWrittenIsRefusedBeforeTraining(string how, string cause)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("blocker"), "a file where a directory should be");
        var bad = how == "parent is a file" ? dir.File("blocker/m.onnx") : dir.File(new string('m', 300) + ".onnx");
        var run = dir.File("m.run");

        var failed = Train(run, bad);
        CliRunner.AssertBadInput(failed, cause);
        Assert.False(Checkpoint.Exists(run));  // refused before any training
    }

    [Fact]
    public void ADiskFullAfterTrainingKeepsTheTrainedRunAndResumeWritesItWithoutTraining()
    {
        using var dir = new TempDirectory();
        using var full = FullDisk.Mount(dir.File("full"), "size=64k");
        if (full is null) return;  // needs root to mount a 64 KiB tmpfs (CI has it)
        var run = dir.File("m.run");

        var failed = Train(run, dir.File("full/m.onnx"));  // lenet300 is 1 MiB
        CliRunner.AssertBadInput(failed, $"cannot write '{dir.File("full/m.onnx")}'");
        Assert.Contains("No space left on device", failed.Err);
        Assert.Contains($"its checkpoint is kept in {run}", failed.Err);
        Assert.Contains($"--resume --run-dir {run}", failed.Err);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.File("full")));

        var resumed = Train(run, dir.File("m.onnx"), "--resume");
        Assert.True(resumed.ExitCode == 0, resumed.Err);
        Assert.DoesNotContain("epoch 1/1", resumed.Out); // nothing trained again
        Assert.Contains($"wrote {dir.File("m.onnx")}", resumed.Out);
        Assert.True(File.Exists(dir.File("m.run/model.onnx")));
    }

    [Fact]
    public void ARunDirectoryThatCannotBeCreatedIsRefusedBeforeTraining()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("blocker"), "");
        var r = Train(dir.File("blocker/run"), dir.File("m.onnx"));
        CliRunner.AssertBadInput(r, $"cannot write '{dir.File("blocker/run")}': ");
        Assert.Contains("nothing was trained", r.Err);
        Assert.False(File.Exists(dir.File("m.onnx")));
    }

    [Fact]
    public void OutInsideTheRunDirectory_IsWrittenOnceAndResumes()
    {
        using var dir = new TempDirectory();
        var run = Directory.CreateDirectory(dir.File("r")).FullName;
        var first = Train(run, Path.Combine(run, "model.onnx"));
        Assert.True(first.ExitCode == 0, first.Err);

        var again = Train(run, Path.Combine(run, "model.onnx"), "--resume");
        Assert.True(again.ExitCode == 0, again.Err);
        Shrink.Runtime.OnnxRunner.CheckLoads(Path.Combine(run, "model.onnx"));
    }
}
