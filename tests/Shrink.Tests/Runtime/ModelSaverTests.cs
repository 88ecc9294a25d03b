using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Runtime;

/// <summary>The saver's refusals: a model that fails validation or that ONNX Runtime cannot load is never written, and nothing is left beside it.</summary>
public class ModelSaverTests
{

    [Fact]
    public void AGraphThatFailsValidation_IsRefusedBeforeAnythingIsWritten()
    {
        using var dir = new TempDirectory();
        var model = ModelZoo.Create("lenet300");
        var relu = model.Graph.Nodes.First(n => n.OpType == "Relu");
        relu.SetInput(0, new Value("ghost", DataType.Float));

        var e = Assert.Throws<GraphValidationException>(() => ModelSaver.Save(model, dir.File("m.onnx")));

        Assert.Contains("'ghost'", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AModelOnnxRuntimeCannotLoad_IsRefused_AndItsTemporaryFilesAreRemoved(bool externalData)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("m.onnx"), "the previous file");

        var e = Assert.Throws<RuntimeFailureException>(() =>
            ModelSaver.Save(TestModels.WithUnknownOperator(), dir.File("m.onnx"), new OnnxWriteOptions { ExternalData = externalData }));

        Assert.StartsWith($"refusing to write '{dir.File("m.onnx")}': ONNX Runtime cannot load the result (", e.Message);
        Assert.Contains("NoSuchOperator", e.Message);
        Assert.DoesNotContain(".tmp", e.Message);  // the temporary name is replaced by the destination's
        Assert.Equal(new[] { "m.onnx" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
        Assert.Equal("the previous file", File.ReadAllText(dir.File("m.onnx")));
    }

    [Fact]
    public void WithoutTheRuntimeCheck_TheSameModelIsWritten()
    {
        using var dir = new TempDirectory();
        ModelSaver.Save(TestModels.WithUnknownOperator(), dir.File("m.onnx"), requireRuntime: false);
        Assert.Contains(OnnxReader.Read(dir.File("m.onnx")).Graph.Nodes, n => n.OpType == "NoSuchOperator");
    }

    [Fact]
    public void AMeasurementThatFails_LeavesNothingWritten()
    {
        using var dir = new TempDirectory();
        string? staged = null;

        Assert.Throws<DataException>(() => ModelSaver.Save<int>(ModelZoo.Create("lenet300"), dir.File("m.onnx"), file =>
        {
            staged = file;
            Assert.True(File.Exists(file));
            throw new DataException("the test set is gone");
        }));

        Assert.NotNull(staged);
        Assert.Equal(dir.Path, Path.GetDirectoryName(staged));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }
}
