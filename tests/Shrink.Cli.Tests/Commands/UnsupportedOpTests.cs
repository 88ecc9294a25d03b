using Shrink.Data;
using Shrink.Onnx;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>What the executor cannot run, given to <c>shrink run --engine torch</c>: the executor's one line, exit code 2, nothing written.</summary>
[Collection("torch")]
public class UnsupportedOpTests
{
    [Fact]
    public void TheCliExitsWithCodeTwoAndTheLineAndWritesNothing()
    {
        using var dir = new TempDirectory();
        var path = dir.File("detector.onnx");
        OnnxWriter.Write(UnsupportedOps.Detector(), path);
        NpyFile.Write(dir.File("x.npy"), NpyArray.FromFloat32(new float[8], new long[] { 1, 2, 4 }));

        var r = CliRunner.Run("run", path, "--input", dir.File("x.npy"), "--out", dir.File("y.npy"), "--engine", "torch");

        CliRunner.AssertBadInput(r, $"the executor cannot run 4 ops of this model: NonMaxSuppression (2 nodes), RoiAlign (1), com.example.Decode (1); {UnsupportedOps.Mend}");
        Assert.False(File.Exists(dir.File("y.npy")));
    }
}
