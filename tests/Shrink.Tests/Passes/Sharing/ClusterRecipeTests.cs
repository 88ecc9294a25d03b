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
        CliRunner.AssertRecipeReplays(dir, args, dir.File("c.onnx"), "cluster");
    }
}
