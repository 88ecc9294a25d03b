using Shrink.IO;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Security;

/// <summary>The output guard and staged writes, attacked from the library: aliases, links, devices, killed runs, failures after the write.</summary>
public class OutputGuardTests
{
    private static string Model(TempDirectory dir, string name = "m.onnx", string zoo = "lenet300")
    {
        var path = dir.File(name);
        ModelSaver.Save(ModelZoo.Create(zoo), path);
        return path;
    }

    [Fact]
    public void AnInputReachedThroughASymlinkedDirectory_IsRefused()
    {
        using var dir = new TempDirectory();
        var input = Model(dir);
        Directory.CreateSymbolicLink(dir.File("alias"), dir.Path);

        var e = Assert.Throws<OptionsException>(() => OutputGuard.Protecting(input).Check(Path.Combine(dir.File("alias"), "m.onnx")));

        Assert.Contains("same file as the input", e.Message);
    }

    [Fact]
    public void AnInputReachedThroughProcSelfRoot_IsRefused()
    {
        using var dir = new TempDirectory();
        var input = Model(dir);

        Assert.Throws<OptionsException>(() => OutputGuard.Protecting(input).Check("/proc/self/root" + input));
    }

    [Fact]
    public void AHardLinkToAnInput_IsRefused()
    {
        using var dir = new TempDirectory();
        var input = Model(dir);
        Shell.Run("ln", input, dir.File("hard.onnx"));

        Assert.Throws<OptionsException>(() => OutputGuard.Protecting(input).Check(dir.File("hard.onnx")));
    }

    [Fact]
    public void TheExternalDataOfAnInput_IsProtected()
    {
        using var dir = new TempDirectory();
        var input = dir.File("in.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet300"), input, new OnnxWriteOptions { ExternalData = true });
        var data = ExternalDataFiles.Referenced(input).Single();

        Assert.True(OutputGuard.Protecting(input).Protects(data));
        Assert.Throws<OptionsException>(() => OutputGuard.Protecting(input).Check(data));
    }

    [Theory]
    [InlineData("/dev/null", "character device")]
    [InlineData("", "empty")]
    public void AnOutputThatIsNotARegularFilePath_IsRefused(string output, string expected)
    {
        var e = Assert.Throws<OptionsException>(() => OutputGuard.CheckPlace(output));
        Assert.Contains(expected, e.Message);
        if (output.Length > 0) Assert.Equal(FileKind.CharacterDevice, FileIdentity.Of(output).Kind);
    }

    [Fact]
    public void AFifoAsOutput_IsRefusedAndKept()
    {
        using var dir = new TempDirectory();
        Shell.Run("mkfifo", dir.File("pipe"));

        Assert.Contains("FIFO", Assert.Throws<OptionsException>(() => AtomicFile.WriteAllText(dir.File("pipe"), "x")).Message);
        Assert.Equal(FileKind.Fifo, FileIdentity.Of(dir.File("pipe")).Kind);
    }

    [Fact]
    public void ASymlinkAsOutput_IsRefusedAndItsTargetKept()
    {
        using var dir = new TempDirectory();
        var input = Model(dir);
        var before = File.ReadAllBytes(input);
        File.CreateSymbolicLink(dir.File("link.onnx"), input);

        var e = Assert.Throws<OptionsException>(() => ModelSaver.Save(ModelZoo.Create("lenet5"), dir.File("link.onnx")));

        Assert.Contains("symbolic link", e.Message);
        Assert.Equal(before, File.ReadAllBytes(input));
    }

    [Fact]
    public void ANameTooLongForTheTemporarySuffix_IsRefusedBeforeWriting()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<OptionsException>(() => AtomicFile.WriteAllText(dir.File(new string('a', 240)), "x"));
        Assert.Contains("255-byte limit", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Fact]
    public void AStagedModelNeverCommitted_LeavesNothing()
    {
        using var dir = new TempDirectory();
        using (var staged = ModelSaver.Stage(ModelZoo.Create("lenet300"), dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true }))
        {
            Assert.True(File.Exists(staged.TempPath));
            Assert.Equal(2, Directory.GetFiles(dir.Path).Length);  // the temporary model and its data
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Fact]
    public void ReplacingAModelWithExternalData_KeepsOldModelAndDataTogetherUntilTheCommit()
    {
        using var dir = new TempDirectory();
        var path = dir.File("m.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet300", 1), path, new OnnxWriteOptions { ExternalData = true });
        var oldData = ExternalDataFiles.Referenced(path).Single();

        using (var staged = OnnxWriter.Stage(ModelZoo.Create("lenet300", 2), path, new OnnxWriteOptions { ExternalData = true }))
        {
            // Until the rename, the current model still reads its own data: loading it works.
            Assert.True(File.Exists(oldData));
            OnnxRunner.CheckLoads(path);
            staged.Commit();
        }

        var newData = ExternalDataFiles.Referenced(path).Single();
        Assert.NotEqual(oldData, newData);
        Assert.False(File.Exists(oldData));  // the replaced model's data is removed once nothing refers to it
        OnnxRunner.CheckLoads(path);
    }

    [Fact]
    public void ReplacingAModel_NeverRemovesDataAProtectedInputReads()
    {
        using var dir = new TempDirectory();
        var path = dir.File("out.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet300", 1), path, new OnnxWriteOptions { ExternalData = true });
        File.Copy(path, dir.File("in.onnx"));  // an input that reads out.onnx's data file
        var shared = ExternalDataFiles.Referenced(path).Single();

        OnnxWriter.Write(ModelZoo.Create("lenet300", 2), path, new OnnxWriteOptions { ExternalData = true }, OutputGuard.Protecting(dir.File("in.onnx")));

        Assert.True(File.Exists(shared));
        OnnxRunner.CheckLoads(dir.File("in.onnx"));
    }

    [Fact]
    public void LeftoversOfKilledRuns_AreRemovedWhenTheSameOutputIsWrittenAgain()
    {
        using var dir = new TempDirectory();
        var deadPid = DeadPid();
        File.WriteAllText(dir.File($".m.onnx.{deadPid}.0badf00d.tmp"), "half a model");
        File.WriteAllText(dir.File($".m.onnx.0123456789abcdef.data.{deadPid}.0badf00d.tmp"), "half the data");
        File.WriteAllText(dir.File("m.onnx.0123456789abcdef.data"), "data whose model never arrived");
        var live = dir.File($".m.onnx.{Environment.ProcessId}.0000beef.tmp");
        File.WriteAllBytes(live, Array.Empty<byte>());  // another run writing the same output now (a model without external data, so far)
        var stage = Directory.CreateDirectory(dir.File(".shrink-stage-0123"));
        Directory.SetLastWriteTimeUtc(stage.FullName, DateTime.UtcNow.AddHours(-1));

        ModelSaver.Save(ModelZoo.Create("lenet300"), dir.File("m.onnx"));

        Assert.Equal(new[] { live, dir.File("m.onnx") }.Order(), Directory.EnumerateFileSystemEntries(dir.Path).Order());
    }

    [Fact]
    public void AFileSystemFailure_IsAnEnvironmentErrorNamingThePath()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<EnvironmentFailureException>(() =>
            AtomicFile.Write(dir.File("x.bin"), _ => throw new IOException("No space left on device", 28)));

        Assert.Contains("x.bin", e.Message);
        Assert.Contains("No space left on device", e.Message);
        Assert.Contains("free some disk space", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    /// <summary>A process id no process can have (above the kernel's pid_max), so no process born during the test can take it.</summary>
    internal static int DeadPid() => int.Parse(File.ReadAllText("/proc/sys/kernel/pid_max").Trim()) + 1;

    [Fact]
    public void AModelNamingItselfAsExternalData_IsProtectedWithoutRecursion()
    {
        using var dir = new TempDirectory();
        var m = ProtoModels.Minimal();
        var t = new Shrink.Onnx.Proto.TensorProto { Name = "self", DataType = 2, DataLocation = Shrink.Onnx.Proto.TensorProto.Types.DataLocation.External };
        t.Dims.Add(4);
        t.ExternalData.Add(new Shrink.Onnx.Proto.StringStringEntryProto { Key = "location", Value = "self.onnx" });
        m.Graph.Initializer.Add(t);
        File.WriteAllBytes(dir.File("self.onnx"), Google.Protobuf.MessageExtensions.ToByteArray(m));

        var guard = OutputGuard.Protecting(dir.File("self.onnx"));  // used to overflow the stack

        Assert.True(guard.Protects(dir.File("self.onnx")));
    }

    [Fact]
    public void RewritingAModel_KeepsTheDataAnotherModelBesideItReads()
    {
        using var dir = new TempDirectory();
        var path = dir.File("out.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet300", 1), path, new OnnxWriteOptions { ExternalData = true });
        File.Move(path, dir.File("v1.onnx"));           // an older version kept under another name
        OnnxWriter.Write(ModelZoo.Create("lenet300", 2), path, new OnnxWriteOptions { ExternalData = true });
        File.Copy(path, dir.File("backup.onnx"));        // a copy of the current one
        OnnxWriter.Write(ModelZoo.Create("lenet300", 3), path, new OnnxWriteOptions { ExternalData = true });

        OnnxRunner.CheckLoads(dir.File("v1.onnx"));
        OnnxRunner.CheckLoads(dir.File("backup.onnx"));
        OnnxRunner.CheckLoads(path);
        Assert.Equal(3, Directory.GetFiles(dir.Path, "out.onnx.*.data").Length);
    }

    [Theory]
    [InlineData(207, true)]
    [InlineData(208, false)]
    public void ANameThatPassesTheCheck_IsWrittenWithItsExternalData(int length, bool fits)
    {
        using var dir = new TempDirectory();
        var path = dir.File(new string('m', length - 5) + ".onnx");
        void Write() => ModelSaver.Save(ModelZoo.Create("lenet300"), path, new OnnxWriteOptions { ExternalData = true });

        if (fits)
        {
            Write();
            OnnxRunner.CheckLoads(path);
        }
        else Assert.Contains("255-byte limit", Assert.Throws<OptionsException>(Write).Message);
    }

    [Fact]
    public void TwoRunsWritingTheSameOutput_EachMeasureTheirOwnFile()
    {
        using var dir = new TempDirectory();
        var path = dir.File("m.onnx");
        using var small = ModelSaver.Stage(ModelZoo.Create("lenet300"), path);
        using var large = ModelSaver.Stage(ModelZoo.Create("lenet5"), path);

        Assert.NotEqual(small.TempPath, large.TempPath);
        var (a, b) = (Shrink.Stats.ModelStats.Compute(small.TempPath).Parameters, Shrink.Stats.ModelStats.Compute(large.TempPath).Parameters);
        small.Commit();
        large.Commit();  // the last commit wins; neither run's figures were read from the other's file

        Assert.Equal(266_610, a);
        Assert.Equal(431_080, b);
        Assert.Equal(b, Shrink.Stats.ModelStats.Compute(path).Parameters);
        Assert.Single(Directory.EnumerateFileSystemEntries(dir.Path));
    }
}
