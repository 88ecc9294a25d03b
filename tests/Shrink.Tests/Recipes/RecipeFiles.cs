using System.Security.Cryptography;
using Shrink.Recipes;
using Shrink.Tests.Data;

namespace Shrink.Tests.Recipes;

/// <summary>Helpers of the recipe tests: recipe text written to a file and loaded, hashes computed independently of the library.</summary>
internal static class RecipeText
{
    /// <summary>Writes <paramref name="yaml"/> to DIR/NAME and loads it.</summary>
    public static Recipe Load(TempDirectory dir, string yaml, string name = "recipe.yaml")
    {
        var path = dir.File(name);
        File.WriteAllText(path, yaml);
        return Recipe.Load(path);
    }

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
