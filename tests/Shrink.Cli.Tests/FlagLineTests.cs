using System.Text.RegularExpressions;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Cli.Tests;

/// <summary>
/// Library messages that name options (<see cref="Shrink.Text.OptionText"/>) are printed by each command with the
/// flag that sets the option: the lines users have always seen, now made by the CLI from the property names.
/// </summary>
public class FlagLineTests
{
    private static void AssertOk(CliRunner.Result r) => Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Err}");

    /// <summary>The report as one line: the console wraps it at 120 columns.</summary>
    private static string Flat(string report) => Regex.Replace(report, @"\s+", " ");

    /// <summary>lenet300 with a fixed batch size of 1.</summary>
    private static string FixedBatchModel(TempDirectory dir)
    {
        var model = ModelZoo.Create("lenet300");
        var input = model.Graph.Inputs[0];
        input.Shape = new Shape(input.Shape!.Dims.Skip(1).Prepend(Dim.Of(1)));
        ModelSaver.Save(model, dir.File("fixed.onnx"));
        return dir.File("fixed.onnx");
    }

    [Fact]
    public void QuantizeNotesNameReduceRangeAndStorage()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300", "m.onnx");
        var dynamic = CliRunner.Run("quantize", model, "--mode", "dynamic", "--reduce-range", "on", "--bench-batch", "none", "--out", dir.File("d.onnx"));
        AssertOk(dynamic);
        Assert.Contains("note: int8 weights use 7 bits (levels ±64; --reduce-range on)", dynamic.Out);

        var int4 = CliRunner.Run("quantize", model, "--weights", "int4", "--activations", "float", "--storage", "int4", "--bench-batch", "none", "--out", dir.File("w.onnx"));
        AssertOk(int4);
        Assert.Contains("nor into a MatMul + Add it has made a Gemm); --storage matmulnbits writes MatMul and Gemm layers as MatMulNBits", Flat(int4.Out));
    }

    [Fact]
    public void UnknownLayersNameLayers()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300", "m.onnx");
        File.WriteAllText(dir.File("bits.json"), "{\"nosuch\": 4}");
        CliRunner.AssertBadInput(CliRunner.Run("cluster", model, "--layers", dir.File("bits.json"), "--out", dir.File("c.onnx")),
            "error: --layers names 'nosuch', not a layer with weights; layers: gemm1, gemm2, gemm3");
        CliRunner.AssertBadInput(CliRunner.Run("factorize", model, "--layers", "nosuch", "--out", dir.File("f.onnx")),
            "error: --layers names 'nosuch', not a layer with weights; layers: gemm1, gemm2, gemm3");
        Assert.False(File.Exists(dir.File("c.onnx")) || File.Exists(dir.File("f.onnx")));
    }

    [Fact]
    public void AFixedBatchNamesTheCommandsBatchFlag()
    {
        using var dir = new TempDirectory();
        var model = FixedBatchModel(dir);
        CliRunner.AssertBadInput(CliRunner.Run("bench", model, "--batch", "2", "--runs", "1", "--warmup", "0"),
            $"error: '{model}' has a fixed batch size of 1; benchmark it with --batch 1");

        // prune compares latency at its --bench-batch sizes: that is the flag its note names.
        var pruned = CliRunner.Run("prune", model, "--sparsity", "0.5", "--bench-batch", "2", "--out", dir.File("p.onnx"));
        AssertOk(pruned);
        Assert.Contains($"note: latency not measured: '{model}' has a fixed batch size of 1; benchmark it with --bench-batch 1", Flat(pruned.Out));
    }

    [Fact]
    public void AnOutputThatIsADirectoryNamesOut()
    {
        using var dir = new TempDirectory();
        CliRunner.AssertBadInput(CliRunner.Run("zoo", "lenet300", "--out", dir.Path),
            $"error: --out '{dir.Path}' is a directory; give a file path such as {Path.Combine(dir.Path, "model.onnx")}");
        CliRunner.AssertBadInput(CliRunner.Run("zoo", "lenet300", "--out", dir.File("missing/m.onnx")),
            $"error: cannot write --out '{dir.File("missing/m.onnx")}': directory '{dir.File("missing")}' does not exist; create it first");
    }

    [Fact]
    public void MissingDataNamesData()
    {
        using var dir = new TempDirectory();
        var model = CliRunner.Zoo(dir, "lenet300", "m.onnx");
        var r = CliRunner.Run("eval", model, "--data", dir.File("nowhere"));
        CliRunner.AssertBadInput(r, $"error: no Fashion-MNIST found: looked in --data {dir.File("nowhere")} (");
        Assert.EndsWith("; install Debian's dataset-fashion-mnist, pass --data DIR, or pass --data embedded", r.Err.Trim());

        Directory.CreateDirectory(dir.File("empty")); // a folder that exists but holds nothing Shrink reads says so
        var empty = CliRunner.Run("eval", model, "--data", dir.File("empty"));
        CliRunner.AssertBadInput(empty, $"error: '{dir.File("empty")}' holds no data Shrink reads (no x.npy, no class subfolders of images); give {Shrink.Data.DataSources.Known}");
    }
}
