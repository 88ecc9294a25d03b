using System.Security.Cryptography;
using Shrink.Recipes;
using Shrink.Runtime;

namespace Shrink.TestSupport;

/// <summary>Helpers of the recipe tests: recipe text written to a file and loaded, the runner tests' model and stages, hashes computed independently of the library.</summary>
internal static class RecipeText
{
    /// <summary>A recipe's first lines: version 1 and zoo lenet300 as the model (stages follow).</summary>
    public const string Header = "version: 1\nmodel:\n  zoo: lenet300\n";

    /// <summary>Writes <paramref name="yaml"/> to DIR/NAME and loads it.</summary>
    public static Recipe Load(TempDirectory dir, string yaml, string name = "recipe.yaml")
    {
        var path = dir.File(name);
        File.WriteAllText(path, yaml);
        return Recipe.Load(path);
    }

    /// <summary>The two stages of the recipe runner's tests: magnitude pruning to 50 %, then 4-bit clustering (no training).</summary>
    public const string TwoStagesYaml = """
        stages:
          - technique: prune-unstructured
            options: { sparsity: 0.5 }
          - technique: cluster-weights
            options: { bits: 4 }
        """;

    /// <summary>Writes zoo lenet300 (seed 3) as DIR/m.onnx, through <see cref="ModelSaver"/>, and returns its path.</summary>
    public static string WriteModel(TempDirectory dir)
    {
        var path = dir.File("m.onnx");
        ModelSaver.Save(global::Shrink.Zoo.ModelZoo.Create("lenet300", seed: 3), path);
        return path;
    }

    /// <summary>A recipe of DIR/m.onnx and <paramref name="stages"/> (by default <see cref="TwoStagesYaml"/>), written as DIR/recipe.yaml and loaded.</summary>
    public static Recipe TwoStages(TempDirectory dir, string stages = TwoStagesYaml) => Load(dir, $"version: 1\nmodel: m.onnx\n{stages}\n");

    /// <summary>The exception that loading <paramref name="yaml"/> raises.</summary>
    public static RecipeException Refusal(TempDirectory dir, string yaml) => Xunit.Assert.Throws<RecipeException>(() => Load(dir, yaml));

    public static string Sha256(params string[] files) =>
        Convert.ToHexStringLower(SHA256.HashData(files.SelectMany(File.ReadAllBytes).ToArray()));

    /// <summary>The repository's <c>recipes/</c> folder (found above the test binaries).</summary>
    public static string ExamplesDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Shrink.sln")) && Directory.Exists(Path.Combine(dir.FullName, "recipes")))
                return Path.Combine(dir.FullName, "recipes");
        throw new DirectoryNotFoundException("no recipes/ folder above " + AppContext.BaseDirectory);
    }
}
