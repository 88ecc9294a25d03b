using Shrink.Passes.Deployment;
using Shrink.Runtime;
using Shrink.Runtime.Split;
using Shrink.TestSupport;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Runtime.Split;

/// <summary>
/// How many part sessions <see cref="SequentialRunner"/> holds at once (<see cref="PartTiming.SessionsOpen"/>): a part
/// not resident is freed before the next is loaded, and the allocator setting that lets the freed memory go back.
/// (Outputs against the whole model: <c>SplitPassTests</c>.)
/// </summary>
public class SequentialRunnerTests
{
    [Fact]
    public void WithOneResidentEachPartIsFreedBeforeTheNextIsLoaded()
    {
        using var dir = Split("lenet5", parts: 3, out var inputs);
        using var runner = SequentialRunner.Open(dir.File(SplitManifest.FileName));
        for (var round = 0; round < 2; round++)
        {
            runner.Run(inputs);
            Assert.Equal(new[] { 0, 1, 2 }, runner.LastTimings.Select(t => t.Part));
            Assert.All(runner.LastTimings, t => Assert.Equal(1, t.SessionsOpen));
            Assert.All(runner.LastTimings, t => Assert.True(t.LoadSeconds > 0, $"round {round}: part {t.Part} was not loaded again"));
        }
    }

    [Fact]
    public void WithTwoResidentTheFirstPartStaysAndTheOthersShareTheSecondSlot()
    {
        using var dir = Split("resnet-small", parts: 4, out var inputs);
        using var runner = SequentialRunner.Open(dir.File(SplitManifest.FileName), new SequentialRunnerOptions { Resident = 2 });
        runner.Run(inputs);
        Assert.Equal(new[] { 1, 2, 2, 2 }, runner.LastTimings.Select(t => t.SessionsOpen));
        runner.Run(inputs);
        Assert.Equal(new[] { 1, 2, 2, 2 }, runner.LastTimings.Select(t => t.SessionsOpen));
        Assert.Equal(0, runner.LastTimings[0].LoadSeconds, 3);
        Assert.All(runner.LastTimings.Skip(1), t => Assert.True(t.LoadSeconds > 0, $"part {t.Part} stayed loaded"));
    }

    [Fact]
    public void OnLinuxTheCLibraryTakesTheThresholdAboveWhichBlocksAreMappedOnTheirOwn() =>
        Assert.Equal(OperatingSystem.IsLinux(), NativeHeap.MapLargeBlocks());

    private static TempDirectory Split(string name, int parts, out IReadOnlyList<HostTensor> inputs)
    {
        var model = ModelZoo.Create(name);
        var dir = new TempDirectory();
        var manifest = SplitWriter.Write(model, new SplitPass(new SplitOptions { Parts = parts }).Plan(model), dir.Path);
        Assert.Equal(parts, manifest.Parts.Count);
        using var whole = OnnxRunner.FromModel(model);
        inputs = whole.RandomInputs(2, seed: 3);
        return dir;
    }
}
