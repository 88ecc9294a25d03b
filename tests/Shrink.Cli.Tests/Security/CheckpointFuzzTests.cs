using Shrink.Training;
using Xunit;

namespace Shrink.Cli.Tests.Security;

/// <summary>
/// Bounded, seeded fuzzing of a real checkpoint, and forged lengths: every damaged file is refused with a
/// <see cref="CheckpointException"/> (never another exception type), and a lying length allocates nothing large.
/// </summary>
[Collection("torch")]
public class CheckpointFuzzTests : IClassFixture<CheckpointRunFixture>
{
    private readonly CheckpointRunFixture _run;

    public CheckpointFuzzTests(CheckpointRunFixture run) => _run = run;

    private enum Outcome { Loaded, Refused }

    private Outcome TryLoad(string path, byte[] bytes)
    {
        File.WriteAllBytes(path, bytes);
        try
        {
            var (_, tensors) = Checkpoint.Load(path, _run.Run);
            foreach (var t in tensors.Values) t.Dispose();
            return Outcome.Loaded;
        }
        catch (CheckpointException e)
        {
            Assert.DoesNotContain('\n', e.Message);
            Assert.StartsWith($"checkpoint '{path}' ", e.Message);
            return Outcome.Refused;
        }
    }

    /// <summary>A few hundred bit flips and truncations: with the checksum left as it is, each one is refused.</summary>
    [Fact]
    public void EveryBitFlipOrTruncationIsRefused()
    {
        using var dir = new TempDirectory();
        var original = File.ReadAllBytes(Checkpoint.PathIn(_run.Pristine));
        var random = new Random(20240611);
        for (var i = 0; i < 300; i++)
        {
            var bytes = Mutate(original, random);
            if (bytes.AsSpan().SequenceEqual(original)) continue; // two flips of one bit cancel
            Assert.True(TryLoad(dir.File("c.bin"), bytes) == Outcome.Refused, $"mutation {i} was accepted");
        }
        Assert.Equal(Outcome.Loaded, TryLoad(dir.File("c.bin"), original));
    }

    /// <summary>
    /// The same mutations with the checksum recomputed (a forger's file): the parser meets every field
    /// damaged. A file that still fits the run may load (a weight changed); anything else is a
    /// <see cref="CheckpointException"/>, or an <see cref="OptionsException"/> when the forged header names other options.
    /// </summary>
    [Fact]
    public void ForgedFilesLoadOrAreRefusedButNeverCrash()
    {
        using var dir = new TempDirectory();
        var original = File.ReadAllBytes(Checkpoint.PathIn(_run.Pristine));
        var random = new Random(77);
        var outcomes = new Dictionary<string, int>();
        for (var i = 0; i < 300; i++)
        {
            var bytes = Mutate(original, random);
            if (bytes.Length >= 52) new CheckpointBytes(bytes).Reseal();
            string outcome;
            try { outcome = TryLoad(dir.File("c.bin"), bytes).ToString(); }
            catch (OptionsException) { outcome = "OtherOptions"; }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        Assert.True(outcomes.GetValueOrDefault("Refused") > 50, string.Join(", ", outcomes));
    }

    /// <summary>One to four flipped bits (mostly in the header and the tensor records, where the structure is), or a truncation.</summary>
    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = (byte[])original.Clone();
        if (random.Next(5) == 0) return bytes[..random.Next(bytes.Length)];
        var structure = new CheckpointBytes(bytes).FirstTensor().Data;
        for (var k = random.Next(1, 5); k > 0; k--)
        {
            var at = random.Next(2) == 0 ? random.Next(structure) : random.Next(bytes.Length);
            bytes[at] ^= (byte)(1 << random.Next(8));
        }
        return bytes;
    }

    [Theory]
    [InlineData("header length", "is corrupt (header length at byte 12 is 2147483647")]
    [InlineData("tensor count", "is corrupt (tensor count at byte")]
    [InlineData("name length", "is corrupt (name length of tensor 0 at byte")]
    [InlineData("rank", "is corrupt (rank of tensor 'param:")]
    [InlineData("data length", "is corrupt (data length of tensor 'param:")]
    public void LyingLengthsAreRefusedBeforeAllocating(string field, string expected)
    {
        using var dir = new TempDirectory();
        var b = CheckpointBytes.Read(Checkpoint.PathIn(_run.Pristine));
        var first = b.FirstTensor();
        switch (field)
        {
            case "header length": b.SetInt32(12, int.MaxValue); break;
            case "tensor count": b.SetInt32(b.TensorCountOffset, int.MaxValue); break;
            case "name length": b.SetInt32(first.NameLength, int.MaxValue); break;
            case "rank": b.SetInt32(first.Rank, int.MaxValue); break;
            default: b.SetInt64(first.DataLength, long.MaxValue); break;
        }
        b.Reseal();
        b.Write(dir.File("c.bin"));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(dir.File("c.bin"), _run.Run));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains(expected, e.Message);
        Assert.True(allocated < 4 * b.Data.Length + (1 << 20), $"{allocated:N0} bytes allocated for a {b.Data.Length:N0}-byte file");
    }

    [Fact]
    public void AFileLargerThanTheRunsCheckpointCanBeIsRefusedUnread()
    {
        using var dir = new TempDirectory();
        using (var f = File.Create(dir.File("c.bin"))) f.SetLength(_run.Run.MaxFileBytes + 1);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(dir.File("c.bin"), _run.Run));
        Assert.Contains($"bytes; a checkpoint of this run takes at most {_run.Run.MaxFileBytes}", e.Message);
    }
}
