using Shrink.Onnx;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary><c>shrink pack</c> checks everything that can fail before it writes the container.</summary>
public class PackCommandTests
{
    [Fact]
    public void MissingReferenceOrDataWritesNothing()
    {
        using var dir = new TempDirectory();
        OnnxWriter.Write(TestModels.Clustered("lenet300", 0.9, 4), dir.File("c.onnx"));
        CliRunner.AssertBadInput(CliRunner.Run("pack", dir.File("c.onnx"), "--reference", dir.File("missing.onnx"), "--out", dir.File("m.shrink")), "missing.onnx");
        CliRunner.AssertBadInput(CliRunner.Run("pack", dir.File("c.onnx"), "--data", dir.File("no-data"), "--out", dir.File("m.shrink")), "no-data");
        Assert.Equal(new[] { "c.onnx" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }
}
