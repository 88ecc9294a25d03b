using Shrink.Onnx;
using Shrink.Recipes;
using Shrink.Text;

namespace Shrink.Search;

/// <summary>
/// The input files of a distributed study, shipped to its workers through the shared <see cref="ArtifactStore"/>: the
/// coordinator keeps each file or directory a <see cref="RecipeData"/> names (the data, the calibration samples, the
/// teacher) and writes their references instead of its paths (<see cref="Ship"/>); a worker turns them back into paths on
/// its machine, every hash checked before use (<see cref="Fetch"/>). A model travels with the external data files it names
/// (<see cref="ShipModel"/>). Fashion-MNIST's embedded subset is built in and travels by name.
/// </summary>
public static class JobInputs
{
    /// <summary><paramref name="data"/> with each path replaced by the reference of its copy in <paramref name="artifacts"/>.</summary>
    public static RecipeData Ship(RecipeData data, ArtifactStore artifacts)
    {
        Check(data);
        return data with
        {
            FashionMnist = data.FashionMnist is null or RecipeData.Embedded ? data.FashionMnist : artifacts.PutPath(data.FashionMnist),
            Source = data.Source is null ? null : artifacts.PutPath(data.Source),
            Calibration = data.Calibration is null ? null : artifacts.PutPath(data.Calibration),
            Teacher = data.Teacher is null ? null : ShipModel(data.Teacher, artifacts),   // a zoo teacher travels by name and seed
        };
    }

    /// <summary>
    /// Refuses data that cannot be shipped (a dataset YAML file names files beside it; a teacher whose external data is outside
    /// its folder, <see cref="CheckModel"/>), before anything is written.
    /// </summary>
    public static void Check(RecipeData data)
    {
        if (data.Source is { } source && Path.GetExtension(source) is ".yaml" or ".yml")
            throw new OptionsException(OptionText.Of($"the data {source} is a dataset file that names files beside it, which workers cannot be sent; with {OptionName.Of("Role")} coordinator give the data as a file or a directory"));
        if (data.Teacher is { } teacher) CheckModel(teacher);
    }

    /// <summary>Refuses a model that cannot be shipped: one whose external data files are not in its folder (or below it).</summary>
    public static void CheckModel(string model) => DataFiles(model);

    /// <summary>
    /// Keeps <paramref name="model"/> and returns its reference: a model without external data as a file (<c>sha256:HEX</c>), one
    /// with external data as a tree of the model and the data files it names, their paths relative to its folder kept, and the
    /// model named inside it (<c>sha256:TREE/NAME</c>, <see cref="ArtifactStore.InTree"/>), so a worker loads it as it is here.
    /// </summary>
    public static string ShipModel(string model, ArtifactStore artifacts)
    {
        var data = DataFiles(model);
        if (data.Count == 0) return artifacts.Put(model);
        var (folder, name) = (Path.GetDirectoryName(Path.GetFullPath(model))!, Path.GetFileName(model));
        return ArtifactStore.InTree(artifacts.PutFiles(folder, [name, .. data]), name);
    }

    /// <summary>The external data files <paramref name="model"/> names, relative to its folder; one outside it is refused in one line.</summary>
    private static List<string> DataFiles(string model)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(model))!;
        var files = new List<string>();
        foreach (var location in ExternalDataFiles.Locations(model) ?? [])
        {
            var relative = Path.GetRelativePath(folder, Path.GetFullPath(Path.Combine(folder, location)));
            if (Path.IsPathRooted(location) || relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(relative))
                throw new OptionsException(OptionText.Of($"the model {model} reads its external data from {location}, outside its folder, which workers cannot be sent; with {OptionName.Of("Role")} coordinator keep the data files beside the model"));
            files.Add(relative);
        }
        return files.Distinct().ToList();
    }

    /// <summary>The data <see cref="Ship"/> gave, with paths on this machine (trees written under <paramref name="scratch"/>).</summary>
    public static RecipeData Fetch(RecipeData shipped, ArtifactStore artifacts, string scratch)
    {
        string? Local(string? reference) => reference is null || !TrialFiles.IsReference(reference) ? reference : artifacts.OpenPath(reference, scratch);
        return shipped with
        {
            FashionMnist = Local(shipped.FashionMnist), Source = Local(shipped.Source), Calibration = Local(shipped.Calibration), Teacher = Local(shipped.Teacher),
        };
    }

    /// <summary>The artifacts directory of a job, refused with the reason when this machine cannot reach it.</summary>
    public static ArtifactStore Reach(string directory, string study)
    {
        if (!Directory.Exists(directory))
            throw new TrialStoreException($"the artifacts directory {directory} of study '{study}' cannot be reached from this machine; mount it at the same path on every worker");
        return new ArtifactStore(directory);
    }
}
