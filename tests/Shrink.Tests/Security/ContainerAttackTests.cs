using System.Buffers.Binary;
using System.Diagnostics;
using Shrink.Container;
using Shrink.Tests.Container;
using Xunit;
using Xunit.Abstractions;

namespace Shrink.Tests.Security;

/// <summary>
/// Hostile <c>.shrink</c> files: each is decoded or refused (<see cref="ModelFormatException"/>, one line) in
/// time linear in its size and without allocating more than its contents justify.
/// </summary>
public class ContainerAttackTests
{
    private const double Seconds = 1.0;
    private const long Allocation = 64L << 20;

    private readonly ITestOutputHelper _log;

    public ContainerAttackTests(ITestOutputHelper log) => _log = log;

    /// <summary>16,000 sections (783 KB): the model and 15,999 one-element weights, all listed; it decodes.</summary>
    internal static byte[] ManySections(int weights = 15_999)
    {
        var names = Enumerable.Range(0, weights).Select(i => $"w{i:D5}").ToList();
        var sections = new List<(byte, byte[])> { (ContainerForge.GraphKind, ContainerForge.ModelSection(names)) };
        sections.AddRange(names.Select(n => (ContainerForge.TensorKind, ContainerForge.ZeroWeight(n))));
        return ContainerForge.Assemble(sections);
    }

    [Fact]
    public void SixteenThousandSectionsDecodeInLinearTime()
    {
        var bytes = ManySections();
        Assert.InRange(bytes.Length, 700_000, 900_000);
        var (error, seconds, allocated) = MeasureLogged(bytes, out var model);
        Assert.Null(error);
        Assert.Equal(15_999, model!.Graph.Initializers.Count(v => v.Const!.ElementCount == 1));
        Assert.True(allocated < Allocation, $"allocated {allocated >> 20} MiB");
        // Linear, not quadratic: the bound is five times what a loaded machine takes (about 1 s under a load of 40 on
        // 2 cores, 0.2 s quiet), while re-reading the sections per section is 16,000 times the work.
        Assert.True(seconds < 5, $"16,000 sections took {seconds:F3} s");
    }

    [Fact]
    public void PaddedMetadataIsRefusedBeforeTheSections()
    {
        var bytes = ContainerForge.PaddedMetadata();
        Assert.InRange(bytes.Length, 1, 12_000);
        var (error, seconds, allocated) = MeasureLogged(bytes, out _);
        AssertOneLine(error, "shrink.cluster_bits", "at byte 8");
        AssertBounded(seconds, allocated);
    }

    [Fact]
    public void HugeDeclaredWeightIsRefusedBeforeItIsAllocated()
    {
        var bytes = ContainerForge.HugeWeight();
        Assert.InRange(bytes.Length, 5_000, 5_108);
        var (error, seconds, allocated) = MeasureLogged(bytes, out _);
        AssertOneLine(error, "weight 'fc1.weight' declares 268,404,300 elements at byte", "the container is corrupt or hostile");
        AssertBounded(seconds, allocated);
    }

    [Fact]
    public void SectionCountBeyondTheBytesIsRefusedUpFront()
    {
        var names = new[] { "w0" };
        var bytes = ContainerForge.Assemble(new[] { (ContainerForge.GraphKind, ContainerForge.ModelSection(names)), (ContainerForge.TensorKind, ContainerForge.ZeroWeight("w0")) }, count: 65_535);
        var (error, _, _) = Measure(bytes, out _);
        AssertOneLine(error, "65,535 sections at byte 6", "at most");
    }

    [Fact]
    public void PositionsThatStopShortOfTheEndAreRefused()
    {
        // 1,000 elements and 600 entries of at most 2 positions could reach the end; these move 1 each and stop at 599.
        var gaps = ContainerForge.Code.Of(new byte[] { 1, 0 }, new int[600]);
        var values = ContainerForge.Code.Of(new byte[] { 0, 1 }, Enumerable.Repeat(1, 600).ToArray());
        var weight = ContainerForge.Weight("w0", new long[] { 1_000 }, 1, 1, 600, new[] { 0.5f }, gaps, values);
        var bytes = ContainerForge.Assemble(new[] { (ContainerForge.GraphKind, ContainerForge.ModelSection(new[] { "w0" })), (ContainerForge.TensorKind, weight) });
        var (error, _, _) = Measure(bytes, out _);
        AssertOneLine(error, "weight 'w0' has positions that stop 400 elements before its end");
    }

    [Fact]
    public void NamesFromTheFileAreEscapedAndCut()
    {
        var evil = "evil\nname\t\u001b[31m" + new string('x', 300);
        var bytes = ContainerForge.Assemble(new[] { (ContainerForge.GraphKind, ContainerForge.ModelSection(new[] { "w0" })), (ContainerForge.TensorKind, ContainerForge.ZeroWeight(evil)) });
        var (error, _, _) = Measure(bytes, out _);
        AssertOneLine(error, "weight 'evil\\nname\\t\\x1B[31m", "chars)");
        Assert.DoesNotContain(new string('x', 100), error!.Message);
    }

    [Fact]
    public void BoundedFuzzingDecodesOrRefusesEveryCase()
    {
        const int Cases = 600;
        var good = ShrinkContainer.Pack(TestModels.Clustered("lenet300", 0.95, 4)).Bytes;
        var fields = ContainerForge.LengthFields(good);
        var random = new Random(2024);
        var total = Stopwatch.StartNew();
        int decoded = 0, refused = 0;
        for (var trial = 0; trial < Cases; trial++)
        {
            // Length fields always get fresh CRCs, so the checks behind the CRC see them; flips and cuts half the time.
            var how = trial % 3;
            var bytes = Mutate(good, fields, random, how);
            if (how == 2 || trial % 2 == 0) ShrinkContainerTests.FixCrcs(bytes);
            var (error, seconds, allocated) = Measure(bytes, out _);
            Assert.True(error is null or ModelFormatException, $"case {trial}: {error?.GetType().Name}: {error?.Message}");
            if (error is null) decoded++; else refused++;
            Assert.True(error is null || !error.Message.Contains('\n'), $"case {trial}: a message of several lines");
            Assert.True(seconds < Seconds && allocated < Allocation, $"case {trial}: {seconds:F2} s, {allocated >> 20} MiB");
        }
        _log.WriteLine($"{decoded} decoded, {refused} refused in {total.Elapsed.TotalSeconds:F1} s");
        Assert.True(refused > Cases / 2, $"only {refused} of {Cases} damaged containers were refused");
        Assert.True(total.Elapsed.TotalSeconds < 10, $"fuzzing took {total.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>One of: bit flips, a truncation, or a length field set to an extreme or random value.</summary>
    private static byte[] Mutate(byte[] good, List<(int Offset, int Width)> fields, Random random, int how)
    {
        var bytes = good.ToArray();
        switch (how)
        {
            case 0:
                for (var e = 1 + random.Next(4); e > 0; e--) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                return bytes;
            case 1:
                return bytes[..random.Next(bytes.Length)];
            default:
                var (offset, width) = fields[random.Next(fields.Count)];
                var value = random.Next(5) switch
                {
                    0 => 0UL,
                    1 => ulong.MaxValue,
                    2 => Read(bytes, offset, width) + (ulong)random.Next(1, 4),
                    3 => Read(bytes, offset, width) - (ulong)random.Next(1, 4),
                    _ => (ulong)random.NextInt64(),
                };
                for (var b = 0; b < width; b++) bytes[offset + b] = (byte)(value >> (8 * b));
                return bytes;
        }
    }

    private static ulong Read(byte[] bytes, int offset, int width) =>
        width == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(offset)) : Enumerable.Range(0, width).Aggregate(0UL, (a, b) => a | (ulong)bytes[offset + b] << (8 * b));

    /// <summary>Unpacks once and measures the time and the bytes allocated on this thread.</summary>
    private static (Exception? Error, double Seconds, long Allocated) Measure(byte[] bytes, out Shrink.Ir.Model? model)
    {
        model = null;
        var before = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        Exception? error = null;
        try { model = ShrinkContainer.Unpack(bytes, "m.shrink"); }
        catch (Exception e) { error = e; }
        return (error, watch.Elapsed.TotalSeconds, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>The faster of two runs (a machine shared with builds stalls now and then; quadratic work does not hide in that).</summary>
    private (Exception? Error, double Seconds, long Allocated) MeasureLogged(byte[] bytes, out Shrink.Ir.Model? model)
    {
        var m = Measure(bytes, out model);
        for (var i = 0; i < 2; i++)
        {
            var again = Measure(bytes, out _);
            if (again.Seconds < m.Seconds) m = m with { Seconds = again.Seconds };
        }
        _log.WriteLine($"{bytes.Length:N0} bytes: {(m.Error is null ? "decoded" : m.Error.Message)}; {m.Seconds:F3} s, {m.Allocated / (1 << 20):N0} MiB allocated");
        return m;
    }

    private static void AssertBounded(double seconds, long allocated)
    {
        Assert.True(seconds < Seconds, $"took {seconds:F2} s");
        Assert.True(allocated < Allocation, $"allocated {allocated >> 20} MiB");
    }

    private static void AssertOneLine(Exception? error, params string[] expected)
    {
        var e = Assert.IsType<ModelFormatException>(error);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
        foreach (var text in expected) Assert.Contains(text, e.Message);
    }
}
