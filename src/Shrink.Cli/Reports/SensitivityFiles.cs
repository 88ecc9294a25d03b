using System.Text.Json;
using Shrink.IO;
using Shrink.Passes.Pruning;

namespace Shrink.Cli.Reports;

/// <summary>
/// The three files of <c>shrink sensitivity</c> — sensitivity.json (the report), layers.json (the suggested per-layer
/// sparsities, for <c>shrink prune --layers</c>) and sensitivity.png — staged together and committed one after the other
/// once all three are written; a directory the command created is removed again when the write fails.
/// </summary>
internal static class SensitivityFiles
{
    public static readonly string[] Names = { "sensitivity.json", "layers.json", "sensitivity.png" };

    public static void Write(string dir, OutputGuard guard, SensitivityReport report, IReadOnlyDictionary<string, double> suggested, string title)
    {
        var options = new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
        var contents = new[]
        {
            System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(report, options)),
            System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(suggested, options)),
            Plots.Sensitivity(report, title),
        };
        var created = !Directory.Exists(dir);
        OutputDirectory.Create(dir, "--out");
        var staged = new List<StagedFile>();
        var written = false;
        try
        {
            foreach (var f in Names) staged.Add(StagedFile.Begin(Path.Combine(dir, f), guard));
            foreach (var (s, bytes) in staged.Zip(contents)) s.Write(stream => stream.Write(bytes));
            foreach (var s in staged) s.Commit();
            written = true;
        }
        finally
        {
            foreach (var s in staged) s.Dispose();
            if (!written && created && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);  // no trace of a failed run
        }
    }
}
