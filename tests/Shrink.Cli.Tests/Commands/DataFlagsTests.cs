using System.Text.Json;
using Shrink.Data;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>
/// The data flags every command that reads --data shares (one definition, <c>DataCli</c>): each reaches the data, a bad value
/// is one line naming the flag, a flag without data is refused, a flag overrides a YAML dataset file's key, and
/// <c>--save-recipe</c> records them so that the recipe replays the command bit for bit.
/// </summary>
public class DataFlagsTests
{
    private static readonly string Resnet = TestModels.TorchFile("resnet_tiny.onnx");  // [batch, 3, 32, 32] → [batch, 10]
    private static readonly string Segnet = TestModels.TorchFile("segnet_tiny.onnx");  // [batch, 3, 16, 16]

    private static JsonElement Json(CliRunner.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Err);
        return JsonDocument.Parse(r.Out).RootElement.Clone();
    }

    /// <summary>16 samples for resnet_tiny with labels 0…3 (x.npy, y.npy) in <paramref name="dir"/>.</summary>
    private static string Labelled(TempDirectory dir)
    {
        DataFiles.Npy(dir.File("x.npy"), DataFiles.Normal(0, 16, 3, 32, 32));
        NpyFile.Write(dir.File("y.npy"), NpyArray.FromInt64(Enumerable.Range(0, 16).Select(i => (long)(i % 4)).ToArray(), [16]));
        return dir.Path;
    }

    [Fact]
    public void ImageFlags_ReachTheFolder_AsTheModelsMisfitShows()
    {
        using var dir = new TempDirectory();
        var root = Path.Combine(dir.Path, "imgs");
        SourceFiles.Folder(root, ["a", "b"], 2);
        string Line(string gives, string sample) =>
            $"input 'input' of '{Segnet}' takes float32[batch,3,16,16] but image folder {root}: 4 images in 2 classes, {gives} gives samples of image: float32[{sample}]";
        CliRunner.AssertBadInput(CliRunner.Run("eval", Segnet, "--data", root, "--image-size", "12x10"), Line("3×12×10", "3,12,10"));
        CliRunner.AssertBadInput(CliRunner.Run("eval", Segnet, "--data", root, "--channels", "1"), Line("1×16×16", "1,16,16"));
        CliRunner.AssertBadInput(CliRunner.Run("sensitivity", Segnet, "--data", root, "--layout", "nhwc", "--out", dir.File("s")), Line("16×16×3", "16,16,3"));

        var plain = Json(CliRunner.Run("eval", Resnet, "--data", root, "--json"));
        var normalised = Json(CliRunner.Run("eval", Resnet, "--data", root, "--mean", "0.5,0.4,0.3", "--std", "0.25", "--data-workers", "1", "--json"));
        Assert.NotEqual(plain.GetProperty("loss").GetDouble(), normalised.GetProperty("loss").GetDouble());
    }

    [Fact]
    public void SplitFraction_HoldsOutWithTheSeed_AndLabelColumn_NamesTheCsvLabels()
    {
        using var dir = new TempDirectory();
        Labelled(dir);
        var held = Json(CliRunner.Run("eval", Resnet, "--data", dir.Path, "--split-fraction", "0.25", "--seed", "3", "--json"));
        Assert.Equal(4, held.GetProperty("samples").GetInt32());
        Assert.EndsWith("4 of 16 held out (split seed 3)", held.GetProperty("data").GetString());

        var model = DataFiles.Tabular(dir);
        File.WriteAllText(dir.File("t.csv"), "a,b,c,kind\n1,2,3,0\n4,5,6,1\n3,2,1,0\n");
        var csv = Json(CliRunner.Run("eval", model, "--data", dir.File("t.csv"), "--label-column", "kind", "--json"));
        Assert.Equal(3, csv.GetProperty("samples").GetInt32());
        Assert.True(csv.TryGetProperty("accuracy", out _));
        CliRunner.AssertBadInput(CliRunner.Run("eval", model, "--data", dir.File("t.csv")),  // without the flag, kind is a fourth feature
            $"takes float32[N,3] but CSV table {dir.File("t.csv")}: 3 rows of 4 features, no labels gives samples of features: float32[4]");
    }

    [Fact]
    public void AFlagOverridesTheKeyOfAYamlDatasetFile()
    {
        using var dir = new TempDirectory();
        Labelled(dir);
        File.WriteAllText(dir.File("data.yaml"), "source: .\nsplit-fraction: 0.5\nseed: 1\n");
        Assert.Equal(8, Json(CliRunner.Run("eval", Resnet, "--data", dir.File("data.yaml"), "--json")).GetProperty("samples").GetInt32());
        var flagged = Json(CliRunner.Run("eval", Resnet, "--data", dir.File("data.yaml"), "--split-fraction", "0.25", "--seed", "3", "--json"));
        Assert.Equal(4, flagged.GetProperty("samples").GetInt32());
        Assert.EndsWith("(split seed 3)", flagged.GetProperty("data").GetString());
    }

    [Fact]
    public void BadValues_AndFlagsWithoutData_AreOneLineNamingTheFlag()
    {
        using var dir = new TempDirectory();
        var root = Path.Combine(dir.Path, "imgs");
        SourceFiles.Folder(root, ["a", "b"], 1);
        string[] Eval(params string[] flags) => ["eval", Resnet, "--data", root, .. flags];
        CliRunner.AssertBadInput(CliRunner.Run(Eval("--image-size", "32x")), "--image-size '32x' is not H or HxW in positive pixels; write e.g. --image-size 224 or --image-size 32x48");
        CliRunner.AssertBadInput(CliRunner.Run(Eval("--mean", "0.5,a")), "--mean '0.5,a' must be numbers separated by commas, one or one per channel, e.g. --mean 0.485,0.456,0.406");
        CliRunner.AssertBadInput(CliRunner.Run(Eval("--channels", "2")), "--channels must be 1 (grayscale) or 3 (RGB), got 2");
        CliRunner.AssertBadInput(CliRunner.Run(Eval("--std", "1,2")), "--std has 2 values; give one, or one per channel (3)");
        CliRunner.AssertBadInput(CliRunner.Run(Eval("--data-workers", "0")), "--data-workers must be 1 or more, got 0");
        CliRunner.AssertBadInput(CliRunner.Run(Eval("--split-fraction", "2")), "--split-fraction must be between 0 and 1 (both excluded), got 2");
        CliRunner.AssertBadInput(CliRunner.Run("eval", Resnet, "--image-size", "32"), "--image-size says how data is read; give --data");
        CliRunner.AssertBadInput(CliRunner.Run("prune", Resnet, "--sparsity", "0.5", "--skip-bad", "--out", dir.File("p.onnx")), "--skip-bad says how data is read; give --data");
        CliRunner.AssertBadInput(CliRunner.Run("quantize", Resnet, "--data", root, "--flip", "--out", dir.File("p.onnx")),
            "--augment-padding and --flip augment training images; use them with --mode qat (static calibration reads the images as they are)");
        Assert.False(File.Exists(dir.File("p.onnx")));
    }

    [Fact]
    public void Quantize_WithImageFlagsOverAYamlFile_SavesThemInTheRecipe_AndTheRecipeReplays()
    {
        using var dir = new TempDirectory();
        SourceFiles.Folder(dir.File("imgs"), ["a", "b"], 3, 12, 12);
        File.WriteAllText(dir.File("data.yaml"), "source: imgs\nimage: { mean: [0.5], std: [0.5] }\n");
        string[] args = ["quantize", Resnet, "--data", dir.File("data.yaml"), "--std", "0.25", "--image-size", "32", "--calib-samples", "4", "--bench-batch", "none", "--out", dir.File("q.onnx")];
        CliRunner.AssertRecipeReplays(dir, args, dir.File("q.onnx"), "quantize");
        var recipe = File.ReadAllText(dir.File("r.yaml"));
        Assert.Contains("version: 2", recipe);
        Assert.Matches(@"std:\s*\[0.25\]", recipe);
        Assert.Matches(@"size:\s*\[32\]", recipe);
    }
}

/// <summary>The data flags of a fine-tuning command saved in its recipe: the split, the seed and augmentation replay bit for bit.</summary>
[Collection("torch")] // it fine-tunes
public class DataFlagsRecipeTests
{
    [Fact]
    public void Prune_WithASplitAndAugmentation_ReplaysFromItsRecipe()
    {
        using var dir = new TempDirectory();
        DataFiles.Npy(dir.File("x.npy"), DataFiles.Normal(2, 16, 3, 32, 32));
        NpyFile.Write(dir.File("y.npy"), NpyArray.FromInt64(Enumerable.Range(0, 16).Select(i => (long)(i % 10)).ToArray(), [16]));
        string[] args = ["prune", TestModels.TorchFile("resnet_tiny.onnx"), "--sparsity", "0.5", "--finetune-epochs", "1", "--batch", "8", "--data", dir.Path,
            "--split-fraction", "0.25", "--seed", "2", "--augment-padding", "2", "--flip", "--bench-batch", "none", "--out", dir.File("p.onnx")];
        CliRunner.AssertRecipeReplays(dir, args, dir.File("p.onnx"), "prune");
        var recipe = File.ReadAllText(dir.File("r.yaml"));
        Assert.Matches(@"split-fraction: 0.25", recipe);
        Assert.Matches(@"padding: 2", recipe);
    }
}
