namespace Shrink.Search;

/// <summary>
/// A trial's files between a worker and its coordinator. A worker evaluates a trial in a scratch run directory of its own,
/// then <see cref="Publish"/>es the folder of the trial's model into the shared <see cref="ArtifactStore"/>: the result's
/// model becomes its reference (<c>sha256:HEX</c>), and its attributes name the folder's tree and the model's path in a
/// run directory (<c>trials/0003/02-quantize-static.onnx</c>). The coordinator <see cref="Localize(Trial, string, ArtifactStore)"/>s each finished trial:
/// the folder is written into its own run directory, every hash checked, and the trial's model is that path again — so
/// the run directory, the report and the best model are what a run on one machine leaves.
/// </summary>
public static class TrialFiles
{
    /// <summary>The attribute naming the tree of the trial's folder.</summary>
    public const string Files = "files";

    /// <summary>The attribute naming the model's path relative to a run directory.</summary>
    public const string Path = "model_path";

    /// <summary>True for an artifact reference (<c>sha256:…</c>), false for a path.</summary>
    public static bool IsReference(string model) => model.StartsWith("sha256:", StringComparison.Ordinal);

    /// <summary>
    /// <paramref name="result"/> with its model (a path relative to <paramref name="runDirectory"/>) and the model's folder
    /// kept in <paramref name="artifacts"/>; a result without a model is returned as it is.
    /// </summary>
    public static TrialResult Publish(TrialResult result, string runDirectory, ArtifactStore artifacts)
    {
        if (result.ModelPath is not { } relative || IsReference(relative)) return result;
        var model = System.IO.Path.Combine(runDirectory, relative);
        var attributes = new Dictionary<string, string>(result.Attributes)
        {
            [Files] = artifacts.PutTree(System.IO.Path.GetDirectoryName(model)!), [Path] = relative.Replace('\\', '/'),
        };
        return result with { ModelPath = artifacts.Put(model), Attributes = attributes };
    }

    /// <summary>
    /// <paramref name="trial"/> with a published model written into <paramref name="runDirectory"/> (once: a folder already
    /// there is kept) and its model path relative to it; any other trial as it is. The model must be a file of the trial's own
    /// folder, <c>trials/NNNN/FILE</c> (the folder the tree replaces); any other path is refused.
    /// </summary>
    public static Trial Localize(Trial trial, string runDirectory, ArtifactStore artifacts)
    {
        if (trial.ModelPath is not { } model || !IsReference(model)) return trial;
        if (!trial.Attributes.TryGetValue(Files, out var tree) || !trial.Attributes.TryGetValue(Path, out var relative))
            throw new TrialStoreException($"trial {trial.Number + 1} names the model {model} but not its files; it was written by another program");
        var folder = $"trials/{(trial.Number + 1).ToString("D4", System.Globalization.CultureInfo.InvariantCulture)}/";
        var file = relative.StartsWith(folder, StringComparison.Ordinal) ? relative[folder.Length..] : "";
        if (file is "" or "." or ".." || file.IndexOfAny(['/', '\\']) >= 0)
            throw new TrialStoreException($"trial {trial.Number + 1} names the path '{relative}', not a file of its folder {folder}; it was written by another program");
        var local = System.IO.Path.Combine(System.IO.Path.GetFullPath(runDirectory), folder, file);
        if (!File.Exists(local)) artifacts.OpenTree(tree, System.IO.Path.GetDirectoryName(local)!);
        return trial with { ModelPath = relative };
    }

    /// <summary>
    /// <see cref="Localize(Trial, string, ArtifactStore)"/> of every trial. A trial whose files cannot be written (an artifact
    /// missing or damaged, a path refused) is given back failed with the reason, not thrown: the others are kept and the run goes
    /// on, and the trial is tried again the next time (a resume after the artifact is copied again).
    /// </summary>
    public static IReadOnlyList<Trial> Localize(IReadOnlyList<Trial> trials, string runDirectory, ArtifactStore artifacts) =>
        trials.Select(t => LocalizeOrFail(t, runDirectory, artifacts)).ToList();

    /// <summary><see cref="Localize(Trial, string, ArtifactStore)"/>, or the trial failed with the reason its files could not be written.</summary>
    public static Trial LocalizeOrFail(Trial trial, string runDirectory, ArtifactStore artifacts)
    {
        try { return Localize(trial, runDirectory, artifacts); }
        catch (TrialStoreException e)
        {
            return trial with { Status = TrialStatus.Failed, ModelPath = null, Error = $"its files could not be written into the run directory: {e.Message}" };
        }
    }
}
