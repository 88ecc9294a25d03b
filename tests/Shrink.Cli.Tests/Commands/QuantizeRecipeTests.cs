using Shrink.Data;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>
/// <c>shrink quantize --save-recipe</c> and <c>--dry-run</c>: each mode as a one-stage recipe of the <c>quantize</c>
/// technique, naming the samples it calibrates on, that <c>shrink recipe run</c> replays to the same model, bit for bit.
/// </summary>
public class QuantizeRecipeTests
{
    /// <summary>A lenet300 model, a .npy of 40 calibration inputs (seeded uniform [0, 1)) and a mixed-precision layer map, in <paramref name="dir"/>.</summary>
    internal static string Inputs(TempDirectory dir)
    {
        var model = CliRunner.Zoo(dir, "lenet300", "m.onnx");
        var random = new Random(5);
        NpyFile.Write(dir.File("c.npy"), NpyArray.FromFloat32(Enumerable.Range(0, 40 * 784).Select(_ => random.NextSingle()).ToArray(), [40, 1, 28, 28]));
        File.WriteAllText(dir.File("layers.json"), "{\"gemm3\": \"int8\"}");
        return model;
    }

    [Theory]
    [InlineData("--data embedded --calib-samples 128", "fashion-mnist: embedded")]                                 // static int8, minmax on the first 128 training images
    [InlineData("--calibration percentile --percentile 99.9 --calib-data c.npy --calib-samples 32 --activations int8 --per-channel", "calibration: c.npy\n  calibration-samples: 32")]
    [InlineData("--mode dynamic --reduce-range off --exclude gemm3", "reduce-range: off")]
    [InlineData("--activations float --weights int4 --block-size 16 --layers layers.json", "gemm3: int8")]       // weight-only int4, block-wise, mixed precision
    public void The_saved_recipe_makes_the_same_model(string flags, string inRecipe)
    {
        using var dir = new TempDirectory();
        var model = Inputs(dir);
        var args = new[] { "quantize", model }.Concat(flags.Split(' ').Select(a => a.EndsWith(".npy") || a.EndsWith(".json") ? dir.File(a) : a))
            .Concat(["--bench-batch", "none", "--out", dir.File("q.onnx")]).ToArray();
        CliRunner.AssertRecipeReplays(dir, args, dir.File("q.onnx"), "quantize");
        Assert.Contains(inRecipe, File.ReadAllText(dir.File("r.yaml")));
        Assert.Contains("\nversion: 1\n", File.ReadAllText(dir.File("r.yaml")));   // nothing of version 2: older Shrinks read it
    }

    [Fact]
    public void Dry_run_prints_the_plan_and_writes_nothing()
    {
        using var dir = new TempDirectory();
        var model = Inputs(dir);
        var before = Directory.GetFileSystemEntries(dir.Path).Order().ToArray();
        var args = new[] { "quantize", model, "--calib-data", dir.File("c.npy"), "--calib-samples", "16", "--out", dir.File("q.onnx") };
        var dry = CliRunner.Run(args.Append("--dry-run").ToArray());
        Assert.True(dry.ExitCode == 0, dry.Err);
        Assert.StartsWith("# dry run: what would run, every option resolved and every input hashed; nothing was written\n", dry.Out);
        Assert.Contains($"  calibration: {Path.GetRelativePath(Environment.CurrentDirectory, dir.File("c.npy"))}\n  calibration-sha256: {RecipeText.Sha256(dir.File("c.npy"))}\n  calibration-samples: 16\n", dry.Out);
        Assert.Contains("- technique: quantize\n  options:\n    mode: static\n", dry.Out);
        Assert.Equal(before, Directory.GetFileSystemEntries(dir.Path).Order().ToArray());
        CliRunner.AssertBadInput(CliRunner.Run(args.Concat(["--dry-run", "--save-recipe", dir.File("r.yaml")]).ToArray()),
            "error: --dry-run writes nothing; give --save-recipe FILE or --dry-run, not both");
        CliRunner.AssertBadInput(CliRunner.Run(args.Concat(["--save-recipe", model]).ToArray()), "--save-recipe");   // an input is never replaced
        Assert.Equal(before, Directory.GetFileSystemEntries(dir.Path).Order().ToArray());
    }
}

/// <summary><c>shrink quantize --mode qat --save-recipe</c>: the <c>quantize-qat</c> technique with its fine-tuning and teacher, replayed bit for bit.</summary>
[Collection("torch")] // it trains: it must not move the generator under the bit-exact resume tests
public class QuantizeQatRecipeTests
{
    [Fact]
    public void The_saved_recipe_makes_the_same_model()
    {
        using var dir = new TempDirectory();
        var model = QuantizeRecipeTests.Inputs(dir);
        var args = new[] { "quantize", model, "--mode", "qat", "--epochs", "1", "--lr", "0.02", "--seed", "3", "--activation-ranges", "calibrated", "--calib-samples", "64",
            "--teacher", model, "--alpha", "0.5", "--data", "embedded", "--bench-batch", "none", "--out", dir.File("q.onnx") };
        var dry = CliRunner.Run(args.Append("--dry-run").ToArray());
        Assert.True(dry.ExitCode == 0, dry.Err);
        Assert.Contains("- technique: quantize-qat\n", dry.Out);
        Assert.False(File.Exists(dir.File("q.onnx")) || Directory.Exists(dir.File("q.run")));
        CliRunner.AssertRecipeReplays(dir, args, dir.File("q.onnx"), "quantize-qat");
        var yaml = File.ReadAllText(dir.File("r.yaml"));
        Assert.Contains("  teacher: m.onnx\n", yaml);
        Assert.Contains("    fine-tune:\n      epochs: 1\n      learning-rate: 0.02\n      batch: 128\n      seed: 3\n      distillation:\n        temperature: 4\n        alpha: 0.5\n", yaml);
        Assert.Contains("    activation-ranges: calibrated\n", yaml);
    }
}
