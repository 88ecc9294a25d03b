using Shrink.Tests.Cli;
using Shrink.Tests.Data;
using Xunit;

namespace Shrink.Tests.Passes.Sharing;

/// <summary><c>shrink cluster --save-recipe</c>: the command as a one-stage recipe that replays to the same model.</summary>
[Collection("torch")] // it fine-tunes: it must not move the generator under the bit-exact resume tests
public class ClusterRecipeTests
{
    [Fact]
    public void TheSavedRecipeMakesTheSameModel()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        var args = new[] { "cluster", model, "--bits", "4", "--data", "embedded", "--finetune-epochs", "1", "--out", dir.File("c.onnx") };
        var saved = CliRunner.Run(args.Append("--save-recipe").Append(dir.File("r.yaml")).ToArray());
        Assert.True(saved.ExitCode == 0, saved.Err);
        Assert.False(File.Exists(dir.File("c.onnx")));
        Assert.Contains("technique: cluster", File.ReadAllText(dir.File("r.yaml")));
        var direct = CliRunner.Run(args);
        Assert.True(direct.ExitCode == 0, direct.Err);
        var replay = CliRunner.Run("recipe", "run", dir.File("r.yaml"), "--out", dir.File("run"));
        Assert.True(replay.ExitCode == 0, replay.Err);
        Assert.Equal(File.ReadAllBytes(dir.File("c.onnx")), File.ReadAllBytes(dir.File("run/01-cluster.onnx")));
    }
}
