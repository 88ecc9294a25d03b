using System.Text.Json;
using Shrink.IO;
using Shrink.Text;

namespace Shrink.Search;

/// <summary>
/// <c>DIR/options.json</c> of a search run directory: the options a resume must share, by options-record property (the
/// data by hash, the seed, the strategy, …). A new run needs a missing or empty directory; a resume, one holding a run
/// (<c>options.json</c> and <c>trials.db</c>) started with the same options: a difference is refused naming the property.
/// </summary>
public static class RunIdentity
{
    public const string FileName = "options.json";

    /// <summary>
    /// Refuses a new run in a directory that is not empty, or a resume of a directory without a run or whose run was started
    /// with other <paramref name="identity"/>; <paramref name="resumeProperty"/> is the options' resume property, named in messages.
    /// </summary>
    /// <remarks><paramref name="localStore"/>: the trials are in the directory's <c>trials.db</c> (else in a store elsewhere, <c>--storage</c>).</remarks>
    public static void Check(string directory, IReadOnlyDictionary<string, string> identity, bool resume, string resumeProperty, string what, bool localStore = true)
    {
        var path = Path.Combine(directory, FileName);
        var resumeName = OptionName.Of(resumeProperty);
        if (!resume)
        {
            if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
                throw new OptionsException(OptionText.Of($"the run directory {directory} is not empty; continue the run there with {resumeName}, or give a new directory"));
            return;
        }
        if (!File.Exists(path) || (localStore && !File.Exists(Path.Combine(directory, SqliteTrialStore.FileName))))
            throw new OptionsException(OptionText.Of($"there is no {what} run to continue in {directory}; start it without {resumeName}"));
        Dictionary<string, string> was;
        try { was = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path)) ?? []; }
        catch (JsonException) { throw new OptionsException(OptionText.Of($"{path} is not a run's options file; start afresh in a new directory without {resumeName}")); }
        foreach (var (key, value) in identity)
            if (was.GetValueOrDefault(key) != value)
                throw OptionsException.For(key, $"differs from the run being continued ({Shown(was.GetValueOrDefault(key))} there, {Shown(value)} now); continue it with the same value, or start afresh in a new directory without resuming");
    }

    /// <summary>Creates the directory and, for a new run, writes <paramref name="identity"/> atomically.</summary>
    public static void Write(string directory, IReadOnlyDictionary<string, string> identity, bool resume)
    {
        Directory.CreateDirectory(directory);
        if (!resume) AtomicFile.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(identity, new JsonSerializerOptions { WriteIndented = true }));
    }

    private static string Shown(string? value) => string.IsNullOrEmpty(value) ? "none" : value.Length > 20 ? value[..12] + "…" : value;
}
