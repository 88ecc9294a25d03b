using System.Text.Json;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>
/// <c>--data</c> in every command: no silent fallback to Fashion-MNIST for a model that does not take it (one line naming the
/// input, what it takes, what Fashion-MNIST gives and the flags that mend it), data that does not fit is one line from the
/// binding, nothing is written, and what reads data names it in its output and its JSON.
/// </summary>
public class DataCliTests
{
    private static readonly string Resnet = TestModels.TorchFile("resnet_tiny.onnx");

    /// <summary>The line of a model taking [batch, 3, 32, 32] given the default Fashion-MNIST, whichever copy the machine has.</summary>
    private static void AssertDefaultRefused(CliRunner.Result r, string mend)
    {
        CliRunner.AssertBadInput(r, $"input 'input' of '{Resnet}' takes float32[batch,3,32,32] but Fashion-MNIST ");
        Assert.EndsWith($" gives samples of image: float32[1,28,28]; with no --data Shrink reads Fashion-MNIST, which does not fit: {mend}", r.Err.TrimEnd());
    }

    [Fact]
    public void Quantize_AModelForOtherInputs_WithoutData_RefusesNamingBothFlags()
    {
        using var dir = new TempDirectory();
        AssertDefaultRefused(CliRunner.Run("quantize", Resnet, "--bench-batch", "none", "--out", dir.File("q.onnx")), "give --calib-data or --data");
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void EveryCommandDefaultingToFashionMnist_RefusesAModelForOtherInputs()
    {
        using var dir = new TempDirectory();
        AssertDefaultRefused(CliRunner.Run("eval", Resnet), "give --data");
        AssertDefaultRefused(CliRunner.Run("sensitivity", Resnet, "--out", dir.File("s")), "give --data");
        AssertDefaultRefused(CliRunner.Run("quantize", Resnet, "--mode", "qat", "--epochs", "1", "--bench-batch", "none", "--out", dir.File("q.onnx")),
            "give --calib-data or --data");
        var train = CliRunner.Run("train", "--model", Resnet, "--epochs", "1", "--out", dir.File("t.onnx"));
        CliRunner.AssertBadInput(train, "with no --data Shrink reads Fashion-MNIST, which does not fit: give --data");
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void DataThatDoesNotFit_IsTheBindingsLine_ForEveryCommand()
    {
        using var dir = new TempDirectory();
        var line = $"input 'input' of '{Resnet}' takes float32[batch,3,32,32] but Fashion-MNIST test (embedded subset) gives samples of image: float32[1,28,28]; give data of the model's input shape";
        CliRunner.AssertBadInput(CliRunner.Run("eval", Resnet, "--data", "embedded"), line);
        CliRunner.AssertBadInput(CliRunner.Run("prune", Resnet, "--sparsity", "0.5", "--finetune-epochs", "1", "--data", "embedded", "--out", dir.File("p.onnx")), line);
        CliRunner.AssertBadInput(CliRunner.Run("cluster", Resnet, "--data", "embedded", "--out", dir.File("c.onnx")), line);
        CliRunner.AssertBadInput(CliRunner.Run("factorize", Resnet, "--data", "embedded", "--out", dir.File("f.onnx")), line);
        CliRunner.AssertBadInput(CliRunner.Run("quantize", Resnet, "--data", "embedded", "--out", dir.File("q.onnx")), line);
        CliRunner.AssertBadInput(CliRunner.Run("distill", "--teacher", Resnet, "--student", Resnet, "--data", "embedded", "--epochs", "1", "--out", dir.File("d.onnx")),
            $"input 'input' of the student {Resnet} takes float32[batch,3,32,32] but Fashion-MNIST test (embedded subset) gives samples of image: float32[1,28,28]");
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Eval_NamesTheDataAndGivesTop5AndLoss_InTextAndJson()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        var text = CliRunner.Run("eval", model, "--data", "embedded", "--limit", "200");
        Assert.True(text.ExitCode == 0, text.Err);
        var line = System.Text.RegularExpressions.Regex.Replace(text.Out, @"\s+", " ");  // the console wraps at 120 columns
        Assert.Matches(@"accuracy \d+\.\d\d ?% \(\d+/200\) on Fashion-MNIST test \(embedded subset\), first 200, [\d.]+ s; top-5 \d+\.\d\d ?%, loss \d\.\d{4}", line);

        var json = CliRunner.Run("eval", model, "--data", "embedded", "--limit", "200", "--json");
        using var doc = JsonDocument.Parse(json.Out);
        var root = doc.RootElement;
        Assert.Equal("Fashion-MNIST test (embedded subset), first 200", root.GetProperty("data").GetString());
        Assert.Equal(200, root.GetProperty("samples").GetInt32());
        Assert.InRange(root.GetProperty("top5").GetDouble(), root.GetProperty("accuracy").GetDouble(), 1);
        Assert.True(root.GetProperty("loss").GetDouble() > 0);

        var self = CliRunner.Run("eval", model, "--data", "embedded", "--limit", "50", "--reference", model, "--json");
        using var fidelity = JsonDocument.Parse(self.Out);
        var output = Assert.Single(fidelity.RootElement.GetProperty("fidelity").EnumerateArray().ToList());
        Assert.Equal(1.0, output.GetProperty("top1Agreement").GetDouble());
        Assert.Equal("Infinity", output.GetProperty("sqnrDb").GetString());
    }

    [Fact]
    public void ACompressionCommand_NamesTheDataInItsTableAndJson()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300");
        var r = CliRunner.Run("prune", model, "--sparsity", "0.5", "--data", "embedded", "--bench-batch", "none", "--out", dir.File("p.onnx"), "--json");
        Assert.True(r.ExitCode == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        foreach (var side in new[] { "before", "after" })
        {
            var m = doc.RootElement.GetProperty(side);
            Assert.Equal("Fashion-MNIST test (embedded subset)", m.GetProperty("data").GetString());
            Assert.InRange(m.GetProperty("top5").GetDouble(), m.GetProperty("accuracy").GetDouble(), 1);
        }
        var table = CliRunner.Run("prune", model, "--sparsity", "0.5", "--data", "embedded", "--bench-batch", "none", "--out", dir.File("p2.onnx"));
        Assert.Contains("Fashion-MNIST test (embedded subset)", table.Out);
        Assert.Contains("top-5 accuracy", table.Out);
    }
}
