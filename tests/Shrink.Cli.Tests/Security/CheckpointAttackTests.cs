using Shrink.Training;
using Xunit;

namespace Shrink.Cli.Tests.Security;

/// <summary>
/// Damaged and forged checkpoints, resumed with <c>shrink train --resume</c>: each is refused with one
/// line and exit code 2, or, when the previous checkpoint is intact, the run continues from it with a
/// note and ends in the uninterrupted run's model.
/// </summary>
[Collection("torch")]
public class CheckpointAttackTests : IClassFixture<CheckpointRunFixture>
{
    private readonly CheckpointRunFixture _run;

    public CheckpointAttackTests(CheckpointRunFixture run) => _run = run;

    /// <summary>Copies the run, damages its newest checkpoint, drops the previous one, and checks that --resume refuses with <paramref name="expected"/>.</summary>
    private void AssertRefused(Action<CheckpointBytes> damage, string expected)
    {
        using var dir = new TempDirectory();
        var run = _run.CopyTo(dir.File("m.run"));
        File.Delete(Checkpoint.PreviousIn(run));
        var bytes = CheckpointBytes.Read(Checkpoint.PathIn(run));
        damage(bytes);
        bytes.Write(Checkpoint.PathIn(run));
        var r = CheckpointRunFixture.Resume(run, dir.File("m.onnx"));
        CliRunner.AssertBadInput(r, $"checkpoint '{Checkpoint.PathIn(run)}' {expected}");
        Assert.False(File.Exists(dir.File("m.onnx")));
    }

    [Theory]
    [InlineData(false, "is corrupt (checksum mismatch")]
    [InlineData(true, "is corrupt (header field 'Epoch' is 3; the run has 2 epoch(s))")]
    public void EpochFlippedFromOneToThreeIsRefused(bool forged, string expected) => AssertRefused(b =>
    {
        b.FlipBit(b.InHeader("\"Epoch\":1,") + "\"Epoch\":".Length, 1); // '1' (0x31) → '3' (0x33)
        if (forged) b.Reseal();
    }, expected);

    [Theory]
    [InlineData(false, "is corrupt (checksum mismatch")]
    [InlineData(true, "is corrupt (header field 'Steps' is 13; epoch 1, batch 9 of 10 per epoch means 19)")]
    public void BatchFlippedFromThreeToNineIsRefused(bool forged, string expected) => AssertRefused(b =>
    {
        var at = b.InHeader("\"Batch\":3,") + "\"Batch\":".Length;
        b.Data[at] = (byte)'9'; // 0x33 → 0x39: two bits
        if (forged) b.Reseal();
    }, expected);

    [Fact]
    public void FlippedWeightBitIsRefused() => AssertRefused(b => b.FlipBit(b.FirstTensor().Data + 1000, 6), "is corrupt (checksum mismatch");

    [Theory]
    [InlineData(4, "is corrupt (truncated to 4 bytes)")]
    [InlineData(40, "is corrupt (truncated to 40 bytes)")]
    [InlineData(5000, "is corrupt (checksum mismatch")]
    [InlineData(-1, "is corrupt (checksum mismatch")]
    public void TruncatedCheckpointIsRefused(int length, string expected) =>
        AssertRefused(b => b.Truncate(length > 0 ? length : b.Data.Length + length), expected);

    [Fact]
    public void HugeDeclaredTensorLengthIsRefused() => AssertRefused(b =>
    {
        b.SetInt64(b.FirstTensor().DataLength, 1L << 40);
        b.Reseal();
    }, "is corrupt (data length of tensor 'param:");

    [Fact]
    public void CorruptNewestFallsBackToThePreviousWithANoteAndEndsInTheUninterruptedModel()
    {
        using var dir = new TempDirectory();
        var run = _run.CopyTo(dir.File("m.run"));
        var bytes = CheckpointBytes.Read(Checkpoint.PathIn(run));
        bytes.FlipBit(bytes.FirstTensor().Data + 1000, 6);
        bytes.Write(Checkpoint.PathIn(run));
        var r = CheckpointRunFixture.Resume(run, dir.File("m.onnx"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains($"note: checkpoint '{Checkpoint.PathIn(run)}' is corrupt (checksum mismatch", r.Err);
        Assert.Contains($"resuming from '{Checkpoint.PreviousIn(run)}' (epoch 1 done)", r.Err);
        Assert.Equal(_run.Reference, File.ReadAllBytes(dir.File("m.onnx")));
        // The damaged file was not kept as the previous checkpoint: both now verify.
        Assert.Equal(2, new[] { Checkpoint.PathIn(run), Checkpoint.PreviousIn(run) }.Count(p => Load(p)));
    }

    [Fact]
    public void BothCheckpointsCorruptIsRefusedNamingBoth()
    {
        using var dir = new TempDirectory();
        var run = _run.CopyTo(dir.File("m.run"));
        foreach (var path in new[] { Checkpoint.PathIn(run), Checkpoint.PreviousIn(run) })
        {
            var bytes = CheckpointBytes.Read(path);
            bytes.FlipBit(bytes.Data.Length / 2, 0);
            bytes.Write(path);
        }
        var r = CheckpointRunFixture.Resume(run, dir.File("m.onnx"));
        CliRunner.AssertBadInput(r, $"checkpoint '{Checkpoint.PathIn(run)}' is corrupt (checksum mismatch");
        Assert.Contains($"the previous one '{Checkpoint.PreviousIn(run)}' is corrupt (checksum mismatch", r.Err);
    }

    [Fact]
    public void RunKilledBeforeItsFirstCheckpointStartsOverWithANote()
    {
        using var dir = new TempDirectory();
        var run = Directory.CreateDirectory(dir.File("m.run")).FullName;
        File.WriteAllBytes(Path.Combine(run, ".checkpoint.0123.tmp"), new byte[100]); // what a kill during the first write leaves
        var r = CheckpointRunFixture.Resume(run, dir.File("m.onnx"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains($"note: {run} holds no checkpoint yet (the run stopped before its first one); starting epoch 1 over", r.Err);
        Assert.Equal(_run.Reference, File.ReadAllBytes(dir.File("m.onnx")));
    }

    [Fact]
    public void IntactCheckpointResumesToTheUninterruptedModel()
    {
        using var dir = new TempDirectory();
        var run = _run.CopyTo(dir.File("m.run"));
        var r = CheckpointRunFixture.Resume(run, dir.File("m.onnx"));
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.DoesNotContain("note:", r.Err);
        Assert.Equal(_run.Reference, File.ReadAllBytes(dir.File("m.onnx")));
    }

    private bool Load(string path)
    {
        var (_, tensors) = Checkpoint.Load(path, _run.Run);
        foreach (var t in tensors.Values) t.Dispose();
        return true;
    }
}
