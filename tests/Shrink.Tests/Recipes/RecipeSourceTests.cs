using System.Security.Cryptography;
using System.Text;
using Shrink.Builder;
using Shrink.Recipes;
using Shrink.Runtime;
using Shrink.Techniques;
using Xunit;

namespace Shrink.Tests.Recipes;

/// <summary>
/// A recipe's data as any data <c>DataSources.Open</c> takes (<c>source:</c>, version 2), calibration from any data, the
/// data's name and labelled figures in each stage's metrics, and the hash a lock holds for a directory of data.
/// </summary>
public class RecipeSourceTests
{
    /// <summary>A model for the 4×4 images of <see cref="IdxTestFiles.WriteSet"/>, with an IDX set in DIR/idx.</summary>
    private static void Inputs(TempDirectory dir)
    {
        var b = new NetworkBuilder("tiny", seed: 2);
        b.Output(b.Linear(b.Flatten(b.Input("input", 1, 4, 4)), 10));
        ModelSaver.Save(b.Build(), dir.File("m.onnx"));
        Directory.CreateDirectory(dir.File("idx"));
        IdxTestFiles.WriteSet(dir.File("idx"), gzip: false);
    }

    private const string Quantize = """
        stages:
          - technique: quantize
        """;

    [Fact]
    public void ASourceAndACalibrationSpec_FeedTheStages_AndTheMetricsNameTheData()
    {
        using var dir = new TempDirectory();
        Inputs(dir);
        var recipe = RecipeText.Load(dir, $"version: 2\nmodel: m.onnx\ndata:\n  source: idx\n  calibration: idx\n  calibration-samples: 4\n{Quantize}\n");

        var result = RecipeRunner.Run(recipe, dir.File("run"), TechniqueSession.Quiet);
        var metrics = Assert.Single(result.Stages).Metrics;
        Assert.StartsWith("Fashion-MNIST test (", metrics.Data);
        Assert.NotNull(metrics.Accuracy);
        Assert.InRange(metrics.Top5!.Value, metrics.Accuracy!.Value, 1);
        Assert.True(metrics.Loss > 0);
        Assert.Null(metrics.Fidelity);

        var locked = File.ReadAllText(result.LockPath);
        Assert.Contains("source: ../idx", locked);
        Assert.Contains($"source-sha256: {DirectoryHash(dir.File("idx"))}", locked);
        Assert.Contains("version: 2", locked);
    }

    /// <summary>The hash the lock documents for a directory, computed here from its definition: each file in ordinal order of its path, as path, NUL, length, NUL, bytes.</summary>
    private static string DirectoryHash(string directory)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in Directory.GetFiles(directory).Order(StringComparer.Ordinal))
        {
            var bytes = File.ReadAllBytes(file);
            sha.AppendData(Encoding.UTF8.GetBytes($"{Path.GetFileName(file)}\0{bytes.Length}\0"));
            sha.AppendData(bytes);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    [Fact]
    public void Source_IsAVersion2Key_NotBesideFashionMnist_AndMustExist()
    {
        using var dir = new TempDirectory();
        Inputs(dir);
        Assert.Contains("data.source: is a version 2 key; write version: 2 at the top of the recipe",
            RecipeText.Refusal(dir, $"version: 1\nmodel: m.onnx\ndata:\n  source: idx\n{Quantize}\n").Message);
        Assert.Contains("data.source: give either fashion-mnist or source, not both",
            RecipeText.Refusal(dir, $"version: 2\nmodel: m.onnx\ndata:\n  fashion-mnist: embedded\n  source: idx\n{Quantize}\n").Message);
        Assert.Contains("data.source: 'nothing.npz' does not exist",
            RecipeText.Refusal(dir, $"version: 2\nmodel: m.onnx\ndata:\n  source: nothing.npz\n{Quantize}\n").Message.Replace(dir.Path + "/", ""));
    }

    [Fact]
    public void ACommandsData_IsFashionMnistForItsOwnSpellings_ElseASource()
    {
        using var dir = new TempDirectory();
        Inputs(dir);
        Assert.Equal(new RecipeData { FashionMnist = "embedded" }, RecipeData.For("embedded"));
        Assert.Equal(new RecipeData { FashionMnist = dir.File("idx") }, RecipeData.For(dir.File("idx")));
        Assert.Equal(new RecipeData(), RecipeData.For(null));
        Assert.Equal(new RecipeData { Source = dir.File("x.npz") }, RecipeData.For(dir.File("x.npz")));
        Assert.Equal(2, RecipeData.For(dir.File("x.npz")).RequiredVersion);
        Assert.Equal(1, RecipeData.For("embedded").RequiredVersion);
    }
}
