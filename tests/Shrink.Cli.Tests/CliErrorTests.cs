using Xunit;

namespace Shrink.Cli.Tests;

/// <summary>Every bad input gets one line on stderr, exit code 2, no stack trace, and nothing written.</summary>
public class CliErrorTests
{
    private static void AssertBadInput(CliRunner.Result r, string expected) => CliRunner.AssertBadInput(r, expected);

    [Fact]
    public void MissingModelFile()
    {
        AssertBadInput(CliRunner.Run("inspect", "/nonexistent/model.onnx"), "does not exist");
    }

    [Fact]
    public void CorruptModelFileWritesNothing()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("bad.onnx"), "this is not a model");
        var r = CliRunner.Run("convert", dir.File("bad.onnx"), "--out", dir.File("out.onnx"));
        AssertBadInput(r, "bad.onnx");
        Assert.False(File.Exists(dir.File("out.onnx")));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void UnknownZooModelWritesNothing()
    {
        using var dir = new TempDirectory();
        var r = CliRunner.Run("zoo", "alexnet", "--out", dir.File("m.onnx"));
        AssertBadInput(r, "unknown zoo model 'alexnet'; choose one of: lenet300, lenet5, vgg-small, resnet-small");
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void OutputEqualToInputIsRefused()
    {
        using var dir = new TempDirectory();
        CliRunner.Zoo(dir, "lenet300", "m.onnx");
        var before = File.ReadAllBytes(dir.File("m.onnx"));
        AssertBadInput(CliRunner.Run("convert", dir.File("m.onnx"), "--out", dir.File("m.onnx")), "never modifies its inputs");
        Assert.Equal(before, File.ReadAllBytes(dir.File("m.onnx")));
    }

    [Fact]
    public void UnknownCommandAndMissingOption()
    {
        var r = CliRunner.Run("frobnicate");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("frobnicate", r.Err);
        r = CliRunner.Run("zoo", "lenet5");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--out", r.Err);
    }

    [Theory]
    [InlineData("--batch", "0", "--batch '0' must be positive integers")]
    [InlineData("--batch", "1,x", "--batch '1,x' must be positive integers")]
    [InlineData("--runs", "0", "runs 0 is out of range")]
    [InlineData("--dim", "seq", "--dim 'seq' is not NAME=SIZE")]
    public void BenchOptionsOutOfRange(string option, string value, string expected)
    {
        using var dir = new TempDirectory();
        CliRunner.Run("zoo", "lenet300", "--out", dir.File("m.onnx"));
        var args = new[] { "bench", dir.File("m.onnx"), option, value }.Concat(option == "--runs" ? Array.Empty<string>() : new[] { "--runs", "1" });
        AssertBadInput(CliRunner.Run(args.ToArray()), expected);
    }

    [Fact]
    public void BenchDynamicAxisNeedsADim()
    {
        AssertBadInput(CliRunner.Run("bench", TestModels.TorchFile("transformer_tiny.onnx"), "--runs", "1", "--warmup", "0"), "--dim seq=SIZE");
    }

    [Fact]
    public void EvalLimitOutOfRangeAndWrongInputShape()
    {
        using var dir = new TempDirectory();
        CliRunner.Run("zoo", "lenet300", "--out", dir.File("m.onnx"));
        AssertBadInput(CliRunner.Run("eval", dir.File("m.onnx"), "--limit", "0"), "--limit 0 is out of range");
        AssertBadInput(CliRunner.Run("eval", TestModels.TorchFile("resnet_tiny.onnx"), "--data", "embedded", "--limit", "10"), "gives samples of image: float32[1,28,28]; give data of the model's input shape");
    }

    [Fact]
    public void EvalWithMissingDataDirectoryNamesIt()
    {
        using var dir = new TempDirectory();
        CliRunner.Run("zoo", "lenet300", "--out", dir.File("m.onnx"));
        AssertBadInput(CliRunner.Run("eval", dir.File("m.onnx"), "--data", dir.File("nothing-here")), "nothing-here");
    }

    [Fact]
    public void RunWithWrongInputShapeWritesNothing()
    {
        using var dir = new TempDirectory();
        CliRunner.Run("zoo", "lenet300", "--out", dir.File("m.onnx"));
        Shrink.Data.NpyFile.Write(dir.File("x.npy"), Shrink.Data.NpyArray.FromFloat32(new float[6], new long[] { 2, 3 }));
        var r = CliRunner.Run("run", dir.File("m.onnx"), "--input", dir.File("x.npy"), "--out", dir.File("y.npy"));
        AssertBadInput(r, "input 'input' has shape [2,3]");
        Assert.False(File.Exists(dir.File("y.npy")));
    }

    [Fact]
    public void InspectReportsValidationProblemsWithExitCode2()
    {
        using var dir = new TempDirectory();
        var g = new Shrink.Ir.Graph("g");
        var x = new Shrink.Ir.Value("x", Shrink.Ir.DataType.Float, Shrink.Ir.Shape.Of(1, 2));
        g.Inputs.Add(x);
        var node = new Shrink.Ir.Node("Relu", "", "r");
        node.AddInput(new Shrink.Ir.Value("ghost"));
        g.AddNode(node);
        g.Outputs.Add(node.AddOutput(new Shrink.Ir.Value("y"))!);
        var m = new Shrink.Ir.Model(g);
        m.SetOpset("", 17);
        File.WriteAllBytes(dir.File("m.onnx"), Shrink.Onnx.OnnxWriter.ToBytes(m));
        var r = CliRunner.Run("inspect", dir.File("m.onnx"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("dangling input: node 'r' (Relu) reads 'ghost'", r.Err);
    }

    /// <summary>A model ONNX Runtime cannot load is refused by the saver (<c>Runtime.ModelSaver</c>): one line, exit code 2, nothing written.</summary>
    [Fact]
    public void TheCommandLine_ReportsTheRefusalInOneLineWithExitCode2()
    {
        using var dir = new TempDirectory();
        Shrink.Onnx.OnnxWriter.Write(TestModels.WithUnknownOperator(), dir.File("bad.onnx"));

        var r = CliRunner.Run("cluster", dir.File("bad.onnx"), "--bits", "4", "--out", dir.File("c.onnx"));

        CliRunner.AssertBadInput(r, "refusing to write");
        Assert.Equal(new[] { "bad.onnx" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }
}
