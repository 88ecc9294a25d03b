using System.Text.Json;
using Shrink.IO;
using Shrink.Recipes;
using Shrink.Search;
using Shrink.Text;

namespace Shrink.Training.Optimization;

/// <summary>
/// <c>DIR/options.json</c>: the options of a run that a resume must share (the model and data by SHA-256, the goal, the
/// budget, the seed, the strategy, …). A new run needs a missing or empty directory; a resume, one holding a run, started
/// with the same options: a difference is refused naming the option.
/// </summary>
internal static class RunOptions
{
    public static void Check(string directory, RecipeModel model, RecipeData data, OptimizeOptions options)
    {
        var path = Path.Combine(directory, RunFiles.OptionsFile);
        var resume = OptionName.Of(nameof(OptimizeOptions.Resume));
        if (!options.Resume)
        {
            if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
                throw new OptionsException(OptionText.Of($"the run directory {directory} is not empty; continue the run there with {resume}, or give a new directory"));
            return;
        }
        if (!File.Exists(path) || (options.Storage is null && !File.Exists(Path.Combine(directory, SqliteTrialStore.FileName))))
            throw new OptionsException(OptionText.Of($"there is no optimize run to continue in {directory}; start it without {resume}"));
        var was = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path)) ?? [];
        foreach (var (key, value) in Identity(model, data, options))
            if (was.GetValueOrDefault(key) != value)
                throw OptionsException.For(key, $"differs from the run being continued ({Shown(was.GetValueOrDefault(key))} there, {Shown(value)} now); continue it with the same value, or start afresh in a new directory without resuming");
    }

    public static void Write(string directory, RecipeModel model, RecipeData data, OptimizeOptions options)
    {
        Directory.CreateDirectory(directory);
        if (!options.Resume) AtomicFile.WriteAllText(Path.Combine(directory, RunFiles.OptionsFile), JsonSerializer.Serialize(Identity(model, data, options), new JsonSerializerOptions { WriteIndented = true }));
    }

    private static Dictionary<string, string> Identity(RecipeModel model, RecipeData data, OptimizeOptions options)
    {
        var identity = new Dictionary<string, string>(options.Identity())
        {
            ["Model"] = RecipeLock.ModelFileHash(model.Path!),
            ["Data"] = data.Source ?? data.FashionMnist ?? "",
            ["Teacher"] = data.Teacher is { } teacher ? RecipeLock.ModelFileHash(teacher) : "",
            [nameof(RecipeData.TrainLimit)] = $"{data.TrainLimit}",
        };
        return identity;
    }

    private static string Shown(string? value) => string.IsNullOrEmpty(value) ? "none" : value.Length > 20 ? value[..12] + "…" : value;
}
