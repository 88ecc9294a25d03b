using Shrink.IO;
using YamlDotNet.RepresentationModel;

namespace Shrink.Recipes;

/// <summary>
/// Writes recipes as YAML that <see cref="Recipe.Load"/> reads back to the same recipe, under the lowest version that holds
/// it (<see cref="RecipeData.RequiredVersion"/>): paths relative to the
/// directory of the file written, every option of every stage (defaults filled in, nulls written as <c>null</c>),
/// dictionaries and sets sorted. This is how a command's <c>--save-recipe</c> and a run's <c>recipe.lock.yaml</c> are written.
/// </summary>
public static class RecipeWriter
{
    /// <summary>Writes <paramref name="recipe"/> to <paramref name="path"/> atomically, refusing a file <paramref name="guard"/> protects.</summary>
    public static void Write(Recipe recipe, string path, OutputGuard? guard = null, IEnumerable<string>? header = null)
    {
        var full = Path.GetFullPath(path);
        AtomicFile.WriteAllText(full, ToYaml(recipe, Path.GetDirectoryName(full), header), guard);
    }

    /// <summary>The YAML text; paths are written relative to <paramref name="baseDirectory"/> (default: the current directory).</summary>
    public static string ToYaml(Recipe recipe, string? baseDirectory = null, IEnumerable<string>? header = null)
    {
        var dir = Path.GetFullPath(baseDirectory ?? Directory.GetCurrentDirectory());
        var version = recipe.Data.RequiredVersion;  // the lowest version that holds the recipe, so older Shrinks read what they can
        var root = new YamlMappingNode { { "version", YamlScalars.Plain(version.ToString(System.Globalization.CultureInfo.InvariantCulture)) } };
        if (recipe.Tool is { } tool) root.Add("tool", YamlScalars.String(tool));
        root.Add("model", Model(recipe.Model, dir));
        if (Data(recipe.Data, dir) is { Children.Count: > 0 } data) root.Add("data", data);
        root.Add("runtime", YamlWriter.Record(recipe.Runtime, typeof(RecipeRuntime)));
        var stages = new YamlSequenceNode();
        foreach (var stage in recipe.Stages)
            stages.Add(new YamlMappingNode { { "technique", YamlScalars.String(stage.Technique) }, { "options", YamlWriter.Record(stage.Options, stage.Options.GetType()) } });
        root.Add("stages", stages);
        return YamlWriter.Text(root, header ?? [$"Shrink recipe, version {version}: run it with shrink recipe run FILE --out DIR"]);
    }

    /// <summary>The YAML of an options record alone, every key written (defaults filled in), as a stage's <c>options:</c> holds it.</summary>
    public static string OptionsToYaml(object options) => YamlWriter.Text(YamlWriter.Record(options, options.GetType()), []);

    private static YamlMappingNode Model(RecipeModel model, string dir)
    {
        var node = new YamlMappingNode();
        if (model.Path is { } path) node.Add("path", YamlScalars.String(Relative(path, dir)));
        else
        {
            node.Add("zoo", YamlScalars.String(model.Zoo ?? ""));
            node.Add("seed", YamlScalars.Plain(model.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        if (model.Sha256 is { } hash) node.Add("sha256", YamlScalars.String(hash));
        return node;
    }

    private static YamlMappingNode Data(RecipeData data, string dir)
    {
        var node = new YamlMappingNode();
        void Add(string key, string? value) { if (value is not null) node.Add(key, YamlScalars.String(value)); }
        void Number(string key, int? value) { if (value is { } n) node.Add(key, YamlScalars.Plain(n.ToString(System.Globalization.CultureInfo.InvariantCulture))); }
        Add("fashion-mnist", data.FashionMnist is null or RecipeData.Embedded ? data.FashionMnist : Relative(data.FashionMnist, dir));
        Add("fashion-mnist-sha256", data.FashionMnistSha256);
        Add("source", data.Source is null ? null : Relative(data.Source, dir));
        Add("source-sha256", data.SourceSha256);
        if (data.Options is { } options) node.Add("options", YamlWriter.Record(options, typeof(Shrink.Data.DataOptions)));
        Number("train-limit", data.TrainLimit);
        Add("calibration", data.Calibration is null ? null : Relative(data.Calibration, dir));
        Add("calibration-sha256", data.CalibrationSha256);
        Number("calibration-samples", data.Calibration is null ? null : data.CalibrationSamples);
        Add("teacher", data.Teacher is null ? null : Relative(data.Teacher, dir));
        Add("teacher-zoo", data.TeacherZoo);
        Number("teacher-seed", data.TeacherZoo is null ? null : data.TeacherSeed);
        Add("teacher-sha256", data.TeacherSha256);
        return node;
    }

    /// <summary>A path relative to <paramref name="dir"/>; a relative path that would read as <c>embedded</c> gets a leading <c>./</c>.</summary>
    private static string Relative(string path, string dir)
    {
        var relative = Path.GetRelativePath(dir, path);
        return relative == RecipeData.Embedded ? "./" + relative : relative;
    }
}
