using Shrink.IO;
using Xunit;

namespace Shrink.Tests.IO;

/// <summary>The atomic writer: the destination holds the old content or the new one, never part of either, and a failed write leaves no trace.</summary>
public class AtomicFileTests
{
    [Fact]
    public void TheNewContentReplacesTheOld_WhichReadersSeeUntilTheRename()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("a.txt"), "old");

        AtomicFile.Write(dir.File("a.txt"), s =>
        {
            s.Write("new"u8);
            Assert.Equal("old", File.ReadAllText(dir.File("a.txt")));  // mid-write, the destination is untouched
            var temp = Assert.Single(Directory.GetFiles(dir.Path, ".a.txt.*.tmp"));
            Assert.Matches($@"^\.a\.txt\.{Environment.ProcessId}\.[0-9a-f]{{8}}\.tmp$", Path.GetFileName(temp));
        });

        Assert.Equal("new", File.ReadAllText(dir.File("a.txt")));
        Assert.Equal(new[] { "a.txt" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void AWriterThatFails_LeavesTheOldFileAndNoTemporary()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("a.txt"), "old");

        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(dir.File("a.txt"), s =>
        {
            s.Write("half"u8);
            throw new InvalidOperationException("the writer's bug");
        }));

        Assert.Equal("old", File.ReadAllText(dir.File("a.txt")));
        Assert.Equal(new[] { "a.txt" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void TextAndBytes_AreWrittenExactly()
    {
        using var dir = new TempDirectory();
        AtomicFile.WriteAllText(dir.File("t.txt"), "größe ✓");
        AtomicFile.WriteAllBytes(dir.File("b.bin"), new byte[] { 0, 1, 255 });

        Assert.Equal(System.Text.Encoding.UTF8.GetBytes("größe ✓"), File.ReadAllBytes(dir.File("t.txt")));
        Assert.Equal(new byte[] { 0, 1, 255 }, File.ReadAllBytes(dir.File("b.bin")));
    }

    [Fact]
    public void ASharedWrite_NamesItsTemporaryForThisMachineAndProcess_AndAFailedOneLeavesNothing()
    {
        using var dir = new TempDirectory();
        AtomicFile.WriteShared(dir.File("a.txt"), s =>
        {
            s.Write("new"u8);
            var temp = Path.GetFileName(Assert.Single(Directory.GetFiles(dir.Path, ".a.txt.*.tmp")));
            Assert.Matches($@"^\.a\.txt\.{Environment.ProcessId}@{System.Text.RegularExpressions.Regex.Escape(HostTemporaries.Host)}\.[0-9a-f]{{8}}\.tmp$", temp);
        });
        Assert.Equal("new", File.ReadAllText(dir.File("a.txt")));

        Assert.Throws<InvalidOperationException>(() => AtomicFile.WriteShared(dir.File("a.txt"), _ => throw new InvalidOperationException("the writer's bug")));
        Assert.Equal(new[] { "a.txt" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
        Assert.Equal("new", File.ReadAllText(dir.File("a.txt")));
    }

    [Fact]
    public void AMissingDirectory_IsRefusedBeforeAnyWrite()
    {
        using var dir = new TempDirectory();
        var called = false;
        Assert.ThrowsAny<ShrinkUserException>(() => AtomicFile.Write(dir.File("no/such/a.txt"), _ => called = true));
        Assert.False(called);
    }
}

/// <summary>A staged output: a temporary sibling, committed by one rename or removed with what it created.</summary>
public class StagedFileTests
{
    [Fact]
    public void DisposingWithoutCommit_RemovesTheTemporaryAndWhatItCreated()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("m.onnx"), "old");
        using (var staged = StagedFile.Begin(dir.File("m.onnx")))
        {
            staged.Write(s => s.Write("new"u8));
            File.WriteAllText(dir.File("m.onnx.0123456789abcdef.data"), "data");
            staged.AddCreated(dir.File("m.onnx.0123456789abcdef.data"));
            Assert.Equal(Path.GetDirectoryName(staged.TempPath), dir.Path);
            Assert.Equal(dir.File("m.onnx"), staged.Destination);
        }
        Assert.Equal(new[] { "m.onnx" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
        Assert.Equal("old", File.ReadAllText(dir.File("m.onnx")));
    }

    [Fact]
    public void ACommit_IsOneRename_RunsItsFollowUp_AndHappensOnce()
    {
        using var dir = new TempDirectory();
        var followed = 0;
        using var staged = StagedFile.Begin(dir.File("m.onnx"));
        staged.Write(s => s.Write("new"u8));
        staged.AfterCommit = () => { followed++; throw new IOException("clean-up failed"); };  // best effort: never fails the commit

        staged.Commit();

        Assert.Equal(1, followed);
        Assert.False(File.Exists(staged.TempPath));
        Assert.Equal("new", File.ReadAllText(dir.File("m.onnx")));
        Assert.Throws<InvalidOperationException>(staged.Commit);
        staged.Dispose();
        Assert.True(File.Exists(dir.File("m.onnx")));  // disposing after the commit keeps the output
    }

    [Fact]
    public void ADestinationThatBecameADirectory_IsRefusedAtTheCommit()
    {
        using var dir = new TempDirectory();
        using var staged = StagedFile.Begin(dir.File("m.onnx"));
        staged.Write(s => s.Write("new"u8));
        Directory.CreateDirectory(dir.File("m.onnx"));

        var e = Assert.Throws<OptionsException>(staged.Commit);

        Assert.Contains("became a directory", e.Message);
        staged.Dispose();
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void TemporariesOfDeadProcesses_AreRemovedAtTheNextBegin_AndLiveOnesKept()
    {
        using var dir = new TempDirectory();
        var dead = Security.OutputGuardTests.DeadPid();
        File.WriteAllText(dir.File($".m.onnx.{dead}.0badc0de.tmp"), "left by a killed run");
        File.WriteAllText(dir.File($".m.onnx.{Environment.ProcessId}.1234abcd.tmp"), "a run writing now");
        File.WriteAllText(dir.File("other.tmp"), "not a staged name");

        using (StagedFile.Begin(dir.File("m.onnx"))) { }

        Assert.Equal(new[] { $".m.onnx.{Environment.ProcessId}.1234abcd.tmp", "other.tmp" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
    }
}
