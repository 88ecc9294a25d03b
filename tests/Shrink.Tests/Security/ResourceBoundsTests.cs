using System.Diagnostics;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Ops;
using Shrink.Runtime;
using Shrink.Tests.Cli;
using Shrink.Tests.Data;
using Shrink.Training;
using Shrink.Training.Execution;
using Shrink.Zoo;
using Xunit;
using static TorchSharp.torch;

namespace Shrink.Tests.Security;

/// <summary>
/// Files and options that declare more than they hold, or more than fits in memory, are refused before
/// the work or the allocation, as bad input: one line, exit code 2. Each test measures what it
/// allocates so a regression shows as a failure, not as a machine out of memory.
/// </summary>
public class ResourceBoundsTests
{
    private const long OneMiB = 1 << 20;

    private static long Allocated(Action action)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static T Refused<T>(Action action, long maxBytes) where T : Exception
    {
        T? caught = null;
        var bytes = Allocated(() => caught = Assert.Throws<T>(action));
        Assert.True(bytes < maxBytes, $"allocated {bytes:N0} bytes before refusing");
        return caught!;
    }

    // 1. npy headers: exact sizes, checked against the file before the data is allocated.

    [Fact]
    public void Npy_ShapeWhoseProductWrapsToZero_IsRefusedAsTruncated()
    {
        long big = 1L << 32;  // 4 · 2^128 bytes: a 128-bit product wraps to exactly 0
        var bytes = HostileFiles.Npy([big, big, big, big]);

        var e = Refused<DataException>(() => NpyFile.Read(new MemoryStream(bytes), "wrap.npy"), OneMiB);

        Assert.Contains("'wrap.npy' is truncated: shape (4294967296, 4294967296, 4294967296, 4294967296) of <f4 needs 1361129467683753853853498429727072845824 data bytes but 0 follow", e.Message);
    }

    [Fact]
    public void Npy_DeclaringMoreDataThanTheFileHolds_IsRefusedBeforeAllocating()
    {
        var bytes = HostileFiles.Npy([1_000_000_000, 784], dataBytes: 16);

        var e = Refused<DataException>(() => NpyFile.Read(new MemoryStream(bytes), "big.npy"), OneMiB);

        Assert.Contains("needs 3136000000000 data bytes but 16 follow the header", e.Message);
    }

    [Theory]
    [InlineData(4_000_000_000u, 100, "declares 4000000000 bytes but the file has 100 after the prefix")]
    [InlineData(20_000u, 20_000, "npy header of 20000 bytes, more than the 10000 numpy and Shrink read")]
    public void Npy_OversizedHeader_IsRefused(uint length, int present, string expected)
    {
        var e = Refused<DataException>(() => NpyFile.Read(new MemoryStream(HostileFiles.NpyV2Prefix(length, present)), "h.npy"), OneMiB);

        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Npy_WrappingShape_GivesExitCode2OnTheCli()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        long big = 1L << 32;
        File.WriteAllBytes(dir.File("x.npy"), HostileFiles.Npy([big, big, big, big]));

        var r = CliRunner.Run("run", model, "--input", dir.File("x.npy"), "--out", dir.File("y.npy"));

        CliRunner.AssertBadInput(r, "is truncated: shape (4294967296, 4294967296, 4294967296, 4294967296)");
        Assert.False(File.Exists(dir.File("y.npy")));
    }

    // 2. IDX: the header bounds what is inflated.

    [Fact]
    public void Idx_GzipBomb_IsRefusedAfterTheDeclaredBytes()
    {
        var bomb = HostileFiles.IdxGzipBomb(count: 10, inflatedGiB: 4);  // 4 GiB inflated, about 4 MiB compressed
        Assert.True(bomb.Length < 8 * OneMiB);
        var watch = Stopwatch.StartNew();

        var e = Refused<DataException>(() => IdxReader.ReadImages(new MemoryStream(bomb), "bomb.gz"), 4 * OneMiB);

        Assert.Contains("'bomb.gz' inflates to more than the 10x28x28 image bytes (7840) its header declares", e.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Idx_HeaderDeclaringTooMuch_IsRefusedBeforeAllocating(bool gzip)
    {
        var raw = HostileFiles.IdxHeader(0x803, 60_000, 60_000, 60_000);
        var bytes = gzip ? HostileFiles.Gzip(raw) : raw;

        var e = Refused<DataException>(() => IdxReader.ReadImages(new MemoryStream(bytes), "huge"), OneMiB);

        Assert.Contains("'huge' declares 60000x60000x60000 image bytes (216000000000000), more than the 1073741824 Shrink reads from one IDX file", e.Message);
    }

    [Fact]
    public void Idx_RawFileShorterThanItsHeader_IsRefusedBeforeAllocating()
    {
        byte[] raw = [.. HostileFiles.IdxHeader(0x803, 1_000_000, 28, 28), .. new byte[100]];

        var e = Refused<DataException>(() => IdxReader.ReadImages(new MemoryStream(raw), "short"), OneMiB);

        Assert.Contains("declares 1000000x28x28 image bytes (784000000) but only 100 follow", e.Message);
    }

    [Fact]
    public void Idx_GzipBombInADataDirectory_GivesExitCode2OnTheCli()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        IdxTestFiles.WriteSet(dir.Path, gzip: true);
        File.WriteAllBytes(dir.File("t10k-images-idx3-ubyte.gz"), HostileFiles.IdxGzipBomb(count: 3, inflatedGiB: 1));

        var r = CliRunner.Run("eval", model, "--data", dir.Path);

        CliRunner.AssertBadInput(r, "inflates to more than the 3x28x28 image bytes (2352) its header declares");
    }

    // 3. A batch of zero samples.

    [Theory]
    [InlineData("ort")]
    [InlineData("torch")]
    public void Run_WithABatchOfZeroSamples_GivesExitCode2(string engine)
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        NpyFile.Write(dir.File("x.npy"), NpyArray.FromFloat32([], [0, 1, 28, 28]));

        var r = CliRunner.Run("run", model, "--input", dir.File("x.npy"), "--out", dir.File("y.npy"), "--engine", engine);

        CliRunner.AssertBadInput(r, "input 'input' has batch size 0 (shape [0,1,28,28]); give at least one sample");
        Assert.False(File.Exists(dir.File("y.npy")));
    }

    [Fact]
    public void Executor_RefusesAZeroBatch_AndReturnsEmptyTensorsAsEmptyArrays()
    {
        using var executor = GraphExecutor.Compile(ModelZoo.Create("lenet300", 0));
        using var scope = NewDisposeScope();

        var e = Assert.Throws<DataException>(() => executor.Forward(zeros(0, 1, 28, 28)));
        var empty = TorchTensors.ToHost("y", zeros(0, 10));

        Assert.Contains("has batch size 0", e.Message);
        Assert.Equal([0L, 10], empty.Shape);
        Assert.Empty(Assert.IsType<float[]>(empty.Data));
    }

    [Fact]
    public void BatchLoader_RefusesBatchSizeZero_AndAllocatesNoMoreThanTheDataSet()
    {
        var data = TestData.Images(new float[2 * 4], [0, 1], [1, 2, 2], 10, "tiny");

        Assert.Contains("batch size 0 is out of range", Assert.Throws<OptionsException>(() => new BatchLoader(data, 0, 0)).Message);
        var bytes = Allocated(() => Assert.Equal(1, new BatchLoader(data, int.MaxValue, 0).Batches));
        Assert.True(bytes < OneMiB, $"allocated {bytes:N0} bytes");
    }

    // 4. An empty test set.

    [Fact]
    public void Eval_OnAnEmptyTestSet_GivesExitCode2()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        File.WriteAllBytes(dir.File("train-images-idx3-ubyte"), IdxTestFiles.Images(1, 28, 28));
        File.WriteAllBytes(dir.File("train-labels-idx1-ubyte"), IdxTestFiles.Labels(3));
        File.WriteAllBytes(dir.File("t10k-images-idx3-ubyte"), IdxTestFiles.Images(0, 28, 28));
        File.WriteAllBytes(dir.File("t10k-labels-idx1-ubyte"), IdxTestFiles.Labels());

        var r = CliRunner.Run("eval", model, "--data", dir.Path);

        CliRunner.AssertBadInput(r, "the test set has no samples");
        Assert.DoesNotContain("0/0", r.Out);
    }

    // 5. Models ONNX Runtime cannot run: named twice, or a future opset.

    [Fact]
    public void Inspect_DuplicateGraphInputNames_GivesExitCode2()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("m.onnx"), OnnxWriter.ToBytes(HostileFiles.DuplicateInputs()));

        var r = CliRunner.Run("inspect", dir.File("m.onnx"));

        CliRunner.AssertBadInput(r, "declares input 'input' 2 times; input names must be unique");
    }

    [Theory]
    [InlineData("", 99, "opset 99 of domain ai.onnx is not one ONNX Runtime runs (it knows ai.onnx opsets 1 to 26)")]
    [InlineData("", 27, "opset 27 of domain ai.onnx")]
    [InlineData("", 0, "opset 0 of domain ai.onnx")]
    [InlineData("ai.onnx.ml", 6, "opset 6 of domain ai.onnx.ml is not one ONNX Runtime runs (it knows ai.onnx.ml opsets 1 to 5)")]
    public void Inspect_OpsetNewerThanOnnxRuntimeRuns_GivesExitCode2(string domain, long opset, string expected)
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("m.onnx"), OnnxWriter.ToBytes(HostileFiles.WithOpset(domain, opset)));

        var r = CliRunner.Run("inspect", dir.File("m.onnx"));

        CliRunner.AssertBadInput(r, expected);
    }

    [Fact]
    public void Convert_RefusesAFutureOpsetUnlessAllowed()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("m.onnx"), OnnxWriter.ToBytes(HostileFiles.WithOpset("", 99)));

        CliRunner.AssertBadInput(CliRunner.Run("convert", dir.File("m.onnx"), "--out", dir.File("out.onnx")), "opset");
        Assert.False(File.Exists(dir.File("out.onnx")));

        var r = CliRunner.Run("convert", dir.File("m.onnx"), "--out", dir.File("out.onnx"), "--allow-invalid");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("warning: ONNX Runtime cannot load", r.Err);
        Assert.Equal(99, OnnxReader.Read(dir.File("out.onnx")).DefaultOpset);
    }

    [Fact]
    public void LatestOpsets_AreTheOnesOnnxRuntimeLoads()
    {
        foreach (var (domain, latest) in OpRegistry.LatestOpsets)
        {
            var model = HostileFiles.WithOpset(domain, latest);
            Assert.Empty(GraphValidator.Validate(model));
            using var _ = OnnxRunner.FromModel(model);
            model.SetOpset(domain, latest + 1);
            Assert.Throws<RuntimeFailureException>(() => OnnxRunner.FromModel(model));
        }
    }

    // 6. Inputs the runner makes: sized exactly before any is allocated.

    [Fact]
    public void Bench_WithAHugeBatch_IsRefusedBeforeAllocating()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        CliRunner.Result? r = null;

        var bytes = Allocated(() => r = CliRunner.Run("bench", model, "--batch", "100000000"));

        CliRunner.AssertBadInput(r!, "at batch size 100000000, input 'input' of '" + model + "' would be [100000000,1,28,28] Single: 313,600,000,000 bytes (292.06 GiB), more than the 2 GiB Shrink allocates for one input; use a smaller batch size");
        Assert.True(bytes < 64 * OneMiB, $"allocated {bytes:N0} bytes");
    }

    [Fact]
    public void Bench_WithAHugeDim_IsRefusedWithoutOverflow()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");

        var r = CliRunner.Run("bench", model, "--batch", "1", "--dim", "N=9223372036854775807");

        CliRunner.AssertBadInput(r, "would be [9223372036854775807,1,28,28] Single: 28,924,494,707,576,576,930,752 bytes");
        Assert.Contains("use a smaller batch size or smaller --dim sizes", r.Err);
    }

    [Fact]
    public void InputBounds_RefuseInputsThatTogetherExceedTheMemoryAvailable()
    {
        TensorSpec Spec(string name) => new(name, typeof(float), [-1, 100], ["N", null]);
        var specs = new[] { Spec("a"), Spec("b") };
        long[][] shapes = [[10, 100], [10, 100]];

        InputBounds.Check(specs, shapes, 10, "m.onnx", available: 8000);
        var e = Assert.Throws<OptionsException>(() => InputBounds.Check(specs, shapes, 10, "m.onnx", available: 6000));

        Assert.Contains("input 'b' of 'm.onnx' would be [10,100] Single: 4,000 bytes (3.91 KiB) (8,000 bytes (7.81 KiB) with the inputs before it), more than the 5.86 KiB of memory this process may use", e.Message);
    }

    // 7. ONNX Runtime's own logging stays off the console.

    [Fact]
    public void Sessions_LogOnlyErrors_UnlessDebugging()
    {
        using var options = OrtSessions.NewOptions();

        Assert.Equal(OrtSessions.LogLevel, options.LogSeverityLevel);
        if (Environment.GetEnvironmentVariable("SHRINK_DEBUG") != "1")
            Assert.Equal(Microsoft.ML.OnnxRuntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, OrtSessions.LogLevel);
    }

    [Fact]
    public void OnnxRuntimeWarnings_DoNotReachRedirectedStderr()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("m.onnx"), OnnxWriter.ToBytes(HostileFiles.UnusedInitializer()));
        var cli = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "Shrink.Cli.exe" : "Shrink.Cli");
        var psi = new ProcessStartInfo(cli) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "convert", dir.File("m.onnx"), "--out", dir.File("out.onnx") }) psi.ArgumentList.Add(arg);
        psi.Environment.Remove("SHRINK_DEBUG");

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();

        Assert.Equal(0, p.ExitCode);
        Assert.DoesNotContain("onnxruntime", stderr.Result);
        Assert.DoesNotContain("\u001b[", stderr.Result);
    }
}
