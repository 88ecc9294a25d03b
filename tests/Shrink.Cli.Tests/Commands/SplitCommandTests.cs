using Shrink.Data;
using Shrink.Runtime;
using Shrink.Runtime.Split;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary><c>shrink split</c> and <c>shrink run</c> on its manifest: the parts, the check, the bit-for-bit run, a recipe stage, and every refusal.</summary>
public class SplitCommandTests
{
    [Fact]
    public void SplitWritesPartsAndAManifestThatRunGivesTheWholeModelsOutputBitForBit()
    {
        using var dir = new TempDirectory();
        var model = TestModels.TorchFile("corpus/googlenet.realbn.onnx");
        var split = CliRunner.Run("split", model, "--parts", "4", "--out", dir.File("parts"));
        Assert.True(split.ExitCode == 0, split.Err);
        Assert.Contains("wrote 4 parts and manifest.json in", split.Out);
        Assert.Contains("check: the parts run one after another give the whole model's outputs bit for bit", split.Out);
        Assert.Equal(new[] { "manifest.json", "part-01.onnx", "part-02.onnx", "part-03.onnx", "part-04.onnx" },
            Directory.GetFiles(dir.File("parts")).Select(Path.GetFileName).Order());
        var input = TestModels.TorchFile("corpus/googlenet.realbn.input.npy");
        foreach (var resident in new[] { "1", "4" })
        {
            var r = CliRunner.Run("run", dir.File("parts/manifest.json"), "--input", input, "--out", dir.File($"split{resident}.npy"), "--no-layout-optimizations", "--resident", resident);
            Assert.True(r.ExitCode == 0, r.Err);
        }
        Assert.Equal(0, CliRunner.Run("run", model, "--input", input, "--out", dir.File("whole.npy"), "--no-layout-optimizations").ExitCode);
        Assert.Equal(File.ReadAllBytes(dir.File("whole.npy")), File.ReadAllBytes(dir.File("split1.npy")));
        Assert.Equal(File.ReadAllBytes(dir.File("whole.npy")), File.ReadAllBytes(dir.File("split4.npy")));
    }

    [Fact]
    public void TheMemoryBoundTakesSizesWithUnitsAndTheJsonHasThePlan()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "vgg-small");
        var r = CliRunner.Run("split", model, "--max-part-memory", "3MiB", "--batch", "4", "--out", dir.File("parts"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Out);
        var plan = doc.RootElement.GetProperty("plan");
        Assert.Equal("memory", plan.GetProperty("boundKind").GetString());
        Assert.Equal(3L << 20, plan.GetProperty("bound").GetInt64());
        Assert.All(plan.GetProperty("parts").EnumerateArray(), p =>
            Assert.InRange(p.GetProperty("weightBytes").GetInt64() + p.GetProperty("peakActivationBytes").GetInt64(), 1, 3L << 20));
        Assert.True(doc.RootElement.GetProperty("check").GetProperty("identical").GetBoolean());
    }

    [Fact]
    public void BadBoundsAndPartCountsAreOneLineExitTwoAndWriteNothing()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        string[] Args(params string[] extra) => new[] { "split", model, "--out", dir.File("parts") }.Concat(extra).ToArray();
        CliRunner.AssertBadInput(CliRunner.Run(Args("--max-part-bytes", "100KB")),
            "--max-part-bytes is 100000 bytes, smaller than layer 'gemm1' (Gemm), whose weights take 942000 bytes; give at least 942000 bytes");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--max-part-memory", "1000")), "--max-part-memory is 1000 bytes, smaller than layer 'gemm1' (Gemm), whose weights and activations at batch 1 take");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--parts", "99")), "--parts is 99, more than the 6 nodes of the model (Constant nodes not counted); give at most 6");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--parts", "2", "--max-part-bytes", "1MB")), "give exactly one of --parts, --max-part-bytes and --max-part-memory");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--max-part-bytes", "lots")), "--max-part-bytes 'lots' is not a size");
        CliRunner.AssertBadInput(CliRunner.Run(Args("--parts", "0")), "--parts must be 1 or more, got 0");
        Assert.False(Directory.Exists(dir.File("parts")));
    }

    [Fact]
    public void AManifestWhosePartHashesDoNotMatchIsRefusedAndNothingIsWritten()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet5");
        Assert.Equal(0, CliRunner.Run("split", model, "--parts", "2", "--out", dir.File("parts"), "--no-check").ExitCode);
        using (var whole = OnnxRunner.Load(model))
            NpyFile.Write(dir.File("x.npy"), HostTensorNpy.ToNpy(whole.RandomInputs(1)[0]));
        File.AppendAllText(dir.File("parts/part-01.onnx"), "tampered");
        var r = CliRunner.Run("run", dir.File("parts/manifest.json"), "--input", dir.File("x.npy"), "--out", dir.File("y.npy"));
        CliRunner.AssertBadInput(r, "part 1 'part-01.onnx' has SHA-256");
        Assert.Contains("the part was changed or replaced after the split", r.Err);
        Assert.False(File.Exists(dir.File("y.npy")));
    }

    [Fact]
    public void SplitIsARecipeStageThatWritesItsPartsBesideTheStageModel()
    {
        using var dir = new TempDirectory();
        CliRunner.Zoo(dir, "lenet5", "m.onnx");
        File.WriteAllText(dir.File("r.yaml"), "version: 1\nmodel: m.onnx\nstages:\n  - technique: split\n    options:\n      parts: 2\n");
        var r = CliRunner.Run("recipe", "run", dir.File("r.yaml"), "--out", dir.File("run"));
        Assert.True(r.ExitCode == 0, r.Err);
        var manifest = SplitManifest.Read(dir.File("run/01-split.parts/manifest.json"));
        Assert.Equal(2, manifest.Parts.Count);
        Assert.Equal("01-split.onnx", manifest.Source);
        Assert.Contains("\"kind\": \"split-plan\"", File.ReadAllText(dir.File("run/01-split.json")));
    }
}
