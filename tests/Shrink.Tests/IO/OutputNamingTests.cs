using Shrink.IO;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.IO;

/// <summary>
/// A refused output is named as the caller names it, else as the options property "Output" (in words, "output"),
/// which the CLI prints as the flag that gives the command's output.
/// </summary>
public class OutputNamingTests
{
    [Fact]
    public void AnOutputTheCallerDoesNotNameIsTheOutputOption()
    {
        using var dir = new TempDirectory();
        var empty = Assert.Throws<OptionsException>(() => OutputGuard.CheckPlace(""));
        Assert.Equal("output is empty; give a file path such as model.onnx", empty.Message);
        Assert.Equal("Output", Assert.Single(empty.Wording.Options).Property);

        var directory = Assert.Throws<OptionsException>(() => ModelSaver.Save(ModelZoo.Create("lenet300"), dir.Path));
        Assert.Equal($"output '{dir.Path}' is a directory; give a file path such as {Path.Combine(dir.Path, "model.onnx")}", directory.Message);
        Assert.Same(OutputGuard.Output, Assert.Single(directory.Wording.Options));

        File.WriteAllText(dir.File("in.onnx"), "");
        var input = Assert.Throws<OptionsException>(() => OutputGuard.Protecting(dir.File("in.onnx")).Check(dir.File("in.onnx")));
        Assert.StartsWith($"output '{dir.File("in.onnx")}' is an input;", input.Message);
    }

    [Fact]
    public void AnOutputTheCallerNamesKeepsItsName()
    {
        var e = Assert.Throws<OptionsException>(() => OutputGuard.CheckPlace("", "the checkpoint"));
        Assert.Equal("the checkpoint is empty; give a file path such as model.onnx", e.Message);
        Assert.Empty(e.Wording.Options);
    }

    [Fact]
    public void AnExternalDataFileOfAnInputIsNotReplaced_NamingTheOutputOption()
    {
        using var dir = new TempDirectory();
        var model = ModelZoo.Create("lenet300");
        Directory.CreateDirectory(dir.File("first"));
        OnnxWriter.Write(model, dir.File("first/m.onnx"), new OnnxWriteOptions { ExternalData = true });
        var dataName = Path.GetFileName(ExternalDataFiles.Referenced(dir.File("first/m.onnx")).Single());
        File.WriteAllText(dir.File(dataName), "an input that happens to bear the data file's name");

        var e = Assert.Throws<OptionsException>(() =>
            OnnxWriter.Stage(model, dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = true }, OutputGuard.Protecting(dir.File(dataName))).Dispose());
        Assert.Equal($"the external data file '{dir.File(dataName)}' belongs to an input and would be replaced; choose another output", e.Message);
        Assert.Equal("Output", Assert.Single(e.Wording.Options).Property);
        Assert.Equal("an input that happens to bear the data file's name", File.ReadAllText(dir.File(dataName)));
    }
}
