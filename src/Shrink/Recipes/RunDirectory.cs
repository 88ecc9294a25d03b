using Shrink.IO;
using Shrink.Techniques;

namespace Shrink.Recipes;

/// <summary>The directory of a recipe run: made (or checked, when resuming) and locked before the first stage.</summary>
internal static class RunDirectory
{
    private static readonly string[] LockHeader =
    [
        "recipe.lock.yaml: what shrink recipe run ran, every option with its default filled in, the tool, and the SHA-256",
        "of each input. It is a recipe itself: running it checks those hashes first.",
    ];

    /// <summary>
    /// A new run: the directory must be new or empty, and gets the lock. A resumed run: the directory must hold the
    /// lock of this very recipe and inputs (the tool aside), line for line.
    /// </summary>
    public static string Prepare(Recipe locked, string directory, bool resume, TechniqueSession session, OutputGuard guard)
    {
        var dir = OutputDirectory.Create(directory, "the recipe's output directory");
        var lockPath = Path.Combine(dir, RecipeLock.FileName);
        var text = RecipeWriter.ToYaml(locked, dir, LockHeader);
        if (!resume)
        {
            if (Directory.EnumerateFileSystemEntries(dir).Any())
                throw new OptionsException(File.Exists(lockPath)
                    ? $"'{Text.Message.Name(dir)}' already holds a recipe run; resume it, or choose another output directory"
                    : $"'{Text.Message.Name(dir)}' is not empty; give a new or empty directory for the recipe's run");
            AtomicFile.WriteAllText(lockPath, text, guard);
            return dir;
        }
        if (!File.Exists(lockPath))
            throw new OptionsException($"nothing to resume in '{Text.Message.Name(dir)}': it holds no {RecipeLock.FileName}; run the recipe without resuming");
        var old = File.ReadAllText(lockPath);
        if (Difference(old, text) is { } difference)
            throw new OptionsException($"'{Text.Message.Name(lockPath)}' was written for another recipe or other inputs ({difference}); run into a new directory, or resume with the recipe that made it");
        if (ToolLine(old) is { } tool && tool != ToolLine(text)) session.Note($"resuming a run made by {tool.Replace("tool: ", "")} with {RecipeLock.Tool}");
        return dir;
    }

    /// <summary>Removes a finished stage's run directory (its checkpoints are not needed once its model is written); best effort.</summary>
    public static void Remove(string run)
    {
        try { if (Directory.Exists(run)) Directory.Delete(run, recursive: true); }
        catch (Exception e) when (EnvironmentFailureException.IsFileSystem(e)) { /* a leftover run directory is harmless: finished stages are found by their metrics */ }
    }

    /// <summary>The first line that differs, the <c>tool:</c> line aside, or null when none does.</summary>
    private static string? Difference(string old, string now)
    {
        string[] Lines(string t) => t.Split('\n').Where(l => !l.StartsWith("tool: ", StringComparison.Ordinal)).ToArray();
        var (a, b) = (Lines(old), Lines(now));
        for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            var (x, y) = (i < a.Length ? a[i] : "(end)", i < b.Length ? b[i] : "(end)");
            if (x != y) return $"it says '{Text.Message.Name(x.Trim())}' where this run has '{Text.Message.Name(y.Trim())}'";
        }
        return null;
    }

    private static string? ToolLine(string text) => text.Split('\n').FirstOrDefault(l => l.StartsWith("tool: ", StringComparison.Ordinal));
}
