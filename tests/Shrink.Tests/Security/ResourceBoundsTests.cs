using System.Diagnostics;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Ops;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;
using static Shrink.TestSupport.Allocations;

namespace Shrink.Tests.Security;

/// <summary>
/// Files and options that declare more than they hold, or more than fits in memory, are refused before
/// the work or the allocation, as bad input: one line, exit code 2. Each test measures what it
/// allocates so a regression shows as a failure, not as a machine out of memory. (The executor's and the
/// command line's bounds are tested in Shrink.Training.Tests and Shrink.Cli.Tests, under the same name.)
/// </summary>
public class ResourceBoundsTests
{
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

    // 3. Models ONNX Runtime cannot run: a future opset.

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

    // 4. Inputs the runner makes: sized exactly before any is allocated.

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

    // 5. ONNX Runtime's own logging stays off the console.

    [Fact]
    public void Sessions_LogOnlyErrors_UnlessDebugging()
    {
        using var options = OrtSessions.NewOptions();

        Assert.Equal(OrtSessions.LogLevel, options.LogSeverityLevel);
        if (Environment.GetEnvironmentVariable("SHRINK_DEBUG") != "1")
            Assert.Equal(Microsoft.ML.OnnxRuntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, OrtSessions.LogLevel);
    }
}
