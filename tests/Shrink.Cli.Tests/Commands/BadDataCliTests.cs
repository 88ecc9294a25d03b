using System.Text.Json;
using Shrink.Data;
using Xunit;

namespace Shrink.Cli.Tests.Commands;

/// <summary>
/// Bad data through the CLI: exit code 2, one line that names what is wrong and how to mend it, nothing written — a corrupt
/// image (or, with --skip-bad, the image skipped and counted), an empty class folder, a label out of range, a .npz missing an
/// input or of the wrong shape, a CSV cell that is not a number, a label column that does not exist.
/// </summary>
public class BadDataCliTests
{
    private static readonly string Resnet = TestModels.TorchFile("resnet_tiny.onnx");  // [batch, 3, 32, 32] → [batch, 10]

    /// <summary>Exit code 2 and the one line, and the directory holds only what the test put there.</summary>
    private static void AssertRefused(TempDirectory dir, string[] before, CliRunner.Result r, string expected)
    {
        CliRunner.AssertBadInput(r, expected);
        Assert.Equal(before.Order(), Directory.GetFileSystemEntries(dir.Path).Order());
    }

    /// <summary>A folder of classes a and b, three 8×8 images each, and a file in a that is not an image.</summary>
    private static string FolderWithACorruptImage(TempDirectory dir)
    {
        var root = Path.Combine(dir.Path, "imgs");
        SourceFiles.Folder(root, ["a", "b"], 3);
        File.WriteAllText(Path.Combine(root, "a", "broken.png"), "not a png at all");
        return root;
    }

    [Fact]
    public void ACorruptImage_IsNamed_AndWithSkipBadItIsSkippedAndCounted()
    {
        using var dir = new TempDirectory();
        var root = FolderWithACorruptImage(dir);
        var before = Directory.GetFileSystemEntries(dir.Path);
        var line = $"image '{Path.Combine(root, "a", "broken.png")}' cannot be decoded: it is not a PNG, JPEG, WebP, BMP or GIF image, or its header is corrupt; "
            + "remove or replace it, or skip and count unreadable images with --skip-bad";
        AssertRefused(dir, before, CliRunner.Run("eval", Resnet, "--data", root), line);
        AssertRefused(dir, before, CliRunner.Run("prune", Resnet, "--sparsity", "0.5", "--data", root, "--bench-batch", "none", "--out", dir.File("p.onnx")), line);

        var eval = CliRunner.Run("eval", Resnet, "--data", root, "--skip-bad", "--json");
        Assert.True(eval.ExitCode == 0, eval.Err);
        using var doc = JsonDocument.Parse(eval.Out);
        Assert.Equal($"image folder {root}: 6 images in 2 classes, 3×32×32, 1 unreadable skipped", doc.RootElement.GetProperty("data").GetString());
        Assert.Equal(6, doc.RootElement.GetProperty("samples").GetInt32());

        var quantize = CliRunner.Run("quantize", Resnet, "--data", root, "--skip-bad", "--bench-batch", "none", "--out", dir.File("q.onnx"), "--json");
        Assert.True(quantize.ExitCode == 0, quantize.Err);
        using var q = JsonDocument.Parse(quantize.Out);
        Assert.EndsWith(", 1 unreadable skipped", q.RootElement.GetProperty("after").GetProperty("data").GetString());
        Assert.Equal(6, q.RootElement.GetProperty("calibrationSamples").GetInt32());
    }

    [Fact]
    public void AnEmptyClassFolder_IsOneLine()
    {
        using var dir = new TempDirectory();
        var root = Path.Combine(dir.Path, "imgs");
        SourceFiles.Folder(root, ["a"], 2);
        Directory.CreateDirectory(Path.Combine(root, "b"));
        var before = Directory.GetFileSystemEntries(dir.Path);
        AssertRefused(dir, before, CliRunner.Run("quantize", Resnet, "--data", root, "--bench-batch", "none", "--out", dir.File("q.onnx")),
            $"image folder '{root}': class folder 'b' holds no images (.png, .jpg, .jpeg, .webp, .bmp, .gif); add images or remove the folder");
    }

    [Fact]
    public void ALabelOutOfRange_IsRefusedBeforeAnyWork_FineTuningIncluded()
    {
        using var dir = new TempDirectory();
        DataFiles.Npy(dir.File("x.npy"), DataFiles.Normal(0, 4, 3, 32, 32));
        NpyFile.Write(dir.File("y.npy"), NpyArray.FromInt64([0, 3, 10, 1], [4]));
        var before = Directory.GetFileSystemEntries(dir.Path);
        var line = $"NumPy array {dir.File("x.npy")}: 4 samples of x: float32[3,32,32], 11 classes (y.npy) has labels up to 10, but output 'output' of '{Resnet}' has 10 classes; give labels in [0, 10)";
        AssertRefused(dir, before, CliRunner.Run("eval", Resnet, "--data", dir.Path), line);
        AssertRefused(dir, before, CliRunner.Run("quantize", Resnet, "--data", dir.Path, "--bench-batch", "none", "--out", dir.File("q.onnx")), line);
        // Before this check, the fine-tuning reached libtorch's cross-entropy with the label and failed as an internal error (exit code 1).
        AssertRefused(dir, before, CliRunner.Run("prune", Resnet, "--sparsity", "0.5", "--finetune-epochs", "1", "--data", dir.Path, "--bench-batch", "none", "--out", dir.File("p.onnx")), line);
    }

    [Fact]
    public void ANpzMissingAnInput_OrOfTheWrongShape_IsOneLine()
    {
        using var dir = new TempDirectory();
        var model = DataFiles.TwoInputs(dir);
        var missing = DataFiles.Npz(dir.File("missing.npz"), ("features", DataFiles.Normal(0, 4, 8)));
        var wrong = DataFiles.Npz(dir.File("wrong.npz"), ("features", DataFiles.Normal(0, 4, 7)), ("ids", DataFiles.Ids(0, 4, 4, 16)));
        var before = Directory.GetFileSystemEntries(dir.Path);
        AssertRefused(dir, before, CliRunner.Run("quantize", model, "--calib-data", missing, "--bench-batch", "none", "--out", dir.File("q.onnx")),
            $"'{missing}' has no array 'ids' for the model's input of that name; it has features; save one array per model input, named like it");
        AssertRefused(dir, before, CliRunner.Run("quantize", model, "--data", wrong, "--bench-batch", "none", "--out", dir.File("q.onnx")),
            $"input 'features' of '{model}' takes float32[N,8] but NumPy archive {wrong}: 4 samples of features: float32[7], ids: int64[4], no labels gives samples of features: float32[7]; give data of the model's input shape");
    }

    [Fact]
    public void ACsvCellThatIsNotANumber_AndALabelColumnThatDoesNotExist_AreOneLine()
    {
        using var dir = new TempDirectory();
        var model = DataFiles.Tabular(dir);
        File.WriteAllText(dir.File("t.csv"), "a,b,c,label\n1,2,3,0\n4,5,x,1\n");
        File.WriteAllText(dir.File("good.csv"), "a,b,c,kind\n1,2,3,0\n4,5,6,1\n");
        var before = Directory.GetFileSystemEntries(dir.Path);
        AssertRefused(dir, before, CliRunner.Run("quantize", model, "--data", dir.File("t.csv"), "--bench-batch", "none", "--out", dir.File("q.onnx")),
            $"'{dir.File("t.csv")}' row 2 (line 3), column 'c': 'x' is not a number; give a number in every feature cell");
        AssertRefused(dir, before, CliRunner.Run("quantize", model, "--data", dir.File("good.csv"), "--label-column", "class", "--bench-batch", "none", "--out", dir.File("q.onnx")),
            $"'{dir.File("good.csv")}' has no label column 'class'; its columns are a, b, c, kind");
    }
}
