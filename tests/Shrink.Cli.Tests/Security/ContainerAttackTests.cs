using System.Diagnostics;
using Xunit;

namespace Shrink.Cli.Tests.Security;

/// <summary>Hostile <c>.shrink</c> files given to <c>shrink unpack</c>: one line, exit code 2, in bounded time, nothing written.</summary>
public class ContainerAttackTests
{
    [Fact]
    public void UnpackCommandRefusesHostileFilesWithOneLine()
    {
        using var dir = new TempDirectory();
        foreach (var (file, bytes, expected) in new[] { ("padded.shrink", ContainerForge.PaddedMetadata(), "shrink.cluster_bits"), ("huge.shrink", ContainerForge.HugeWeight(), "268,404,300 elements") })
        {
            File.WriteAllBytes(dir.File(file), bytes);
            var watch = Stopwatch.StartNew();
            CliRunner.AssertBadInput(CliRunner.Run("unpack", dir.File(file), "--out", dir.File("out.onnx")), expected);
            Assert.True(watch.Elapsed.TotalSeconds < 5, $"{file}: {watch.Elapsed.TotalSeconds:F1} s");
            Assert.False(File.Exists(dir.File("out.onnx")));
        }
    }
}
