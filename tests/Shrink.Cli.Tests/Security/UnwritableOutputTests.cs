using Shrink.Onnx;
using Xunit;

namespace Shrink.Cli.Tests.Security;

/// <summary>
/// An output no file can be written to (under /proc, a virtual file system that takes no new files) is the machine's refusal,
/// not a bug: exit 2, one line naming the path, and refused before the work (no calibration, no pruning) where the command
/// checks its output first.
/// </summary>
public class UnwritableOutputTests
{
    [Fact]
    public void Prune_IntoProc_IsExit2NamingThePath()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        var r = CliRunner.Run("prune", model, "--method", "magnitude", "--sparsity", "0.5", "--bench-batch", "none", "--out", "/proc/pruned.onnx");
        CliRunner.AssertBadInput(r, "cannot write '/proc/pruned.onnx'");
        Assert.Contains("write elsewhere", r.Err);
        Assert.Empty(r.Out);
    }

    [Fact]
    public void Quantize_IntoProc_IsRefusedBeforeCalibrating()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        var r = CliRunner.Run("quantize", model, "--data", "embedded", "--bench-batch", "none", "--out", "/proc/self/q.onnx");
        CliRunner.AssertBadInput(r, "cannot write '/proc/self/q.onnx'");  // one line: no "calibrating …" before it
    }

    [Fact]
    public void Pack_AndARecipe_IntoProc_AreExit2NamingThePath()
    {
        using var dir = new TempDirectory();
        OnnxWriter.Write(TestModels.Clustered("lenet300", 0.9, 4), dir.File("c.onnx"));
        CliRunner.AssertBadInput(CliRunner.Run("pack", dir.File("c.onnx"), "--out", "/proc/m.shrink"), "'/proc/m.shrink'");
        CliRunner.AssertBadInput(CliRunner.Run("cluster", dir.File("c.onnx"), "--out", dir.File("x.onnx"), "--save-recipe", "/proc/r.yaml"), "'/proc/r.yaml'");
        Assert.Equal(new[] { "c.onnx" }, Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }
}
