using Shrink.Data;
using Shrink.IO;
using Shrink.Zoo;
using YamlDotNet.RepresentationModel;

namespace Shrink.Recipes;

/// <summary>The recipe's <c>model</c> and <c>data</c> sections: paths resolved against the recipe's directory, and each named file checked to be there.</summary>
internal static class RecipeFiles
{
    public static RecipeModel Model(YamlBinder header, YamlNode node, string baseDirectory, Dictionary<string, long> lines)
    {
        RecipeModel model;
        if (node is YamlScalarNode s && !YamlScalars.IsNull(s))
        {
            model = new RecipeModel { Path = (string)header.Bind(s, typeof(string), "model")! };
            lines["model.path"] = s.Start.Line;
        }
        else
        {
            model = (RecipeModel)header.Record(node, typeof(RecipeModel), "model");
            Lines((YamlMappingNode)node, "model", lines);
        }
        var line = lines.GetValueOrDefault("model.path", lines.GetValueOrDefault("model.zoo", node.Start.Line));
        if ((model.Path is null) == (model.Zoo is null))
            throw new RecipeException(header.Source, node.Start.Line, null, "model", "give either path (an ONNX file) or zoo (a zoo model's name), not both or neither");
        if (model.Zoo is { } zoo && !ModelZoo.Names.Contains(zoo))
            throw new RecipeException(header.Source, line, null, "model.zoo", $"unknown zoo model '{Text.Message.Name(zoo)}'; choose one of: {string.Join(", ", ModelZoo.Names)}");
        if (model.Path is null) return model;
        var path = Path.GetFullPath(Path.Combine(baseDirectory, model.Path));
        RequireFile(header.Source, line, "model.path", path, "an ONNX model");
        return model with { Path = path };
    }

    public static RecipeData Data(YamlBinder header, YamlNode node, string baseDirectory, Dictionary<string, long> lines, int version)
    {
        var data = (RecipeData)header.Record(node, typeof(RecipeData), "data");
        Lines((YamlMappingNode)node, "data", lines);
        string? Resolve(string? p) => p is null ? null : Path.GetFullPath(Path.Combine(baseDirectory, p));
        data = data with
        {
            FashionMnist = data.FashionMnist is null or RecipeData.Embedded ? data.FashionMnist : Resolve(data.FashionMnist),
            Source = Resolve(data.Source),
            Calibration = Resolve(data.Calibration),
            Teacher = Resolve(data.Teacher),
        };
        long Line(string key) => lines.GetValueOrDefault($"data.{key}", node.Start.Line);
        RecipeException Fail(string key, string problem) => new(header.Source, Line(key), null, $"data.{key}", problem);
        if (version < 2 && new[] { "train-limit", "teacher-zoo", "teacher-seed", "source", "source-sha256", "options" }.FirstOrDefault(k => lines.ContainsKey($"data.{k}")) is { } newer)
            throw Fail(newer, "is a version 2 key; write version: 2 at the top of the recipe");
        if (data.FashionMnist is { } dir && dir != RecipeData.Embedded && IdxFileSet.Find(dir) is { Missing.Count: > 0 } found)
            throw Fail("fashion-mnist", $"no Fashion-MNIST in '{Text.Message.Name(dir)}' ({found.Describe()}); give a directory of the four IDX files, or embedded");
        if (data.Source is { } source)
        {
            if (data.FashionMnist is not null) throw Fail("source", "give either fashion-mnist or source, not both");
            RequireData(header.Source, Line("source"), "data.source", source);
        }
        if (data.TrainLimit is < 1) throw Fail("train-limit", $"must be at least 1 (the number of training images kept), got {data.TrainLimit}");
        if (data.Calibration is { } calibration) RequireData(header.Source, Line("calibration"), "data.calibration", calibration);
        if (data.CalibrationSamples < 1) throw Fail("calibration-samples", $"must be at least 1, got {data.CalibrationSamples}");
        Teacher(data, lines, Fail);
        if (data.Teacher is { } teacher) RequireFile(header.Source, Line("teacher"), "data.teacher", teacher, "a trained ONNX model");
        return data;
    }

    /// <summary>Refuses a data path that is neither an existing regular file nor a directory.</summary>
    private static void RequireData(string source, long line, string key, string path)
    {
        if (FileIdentity.Of(path).Kind == FileKind.Directory) return;
        RequireFile(source, line, key, path, "data: a .npy, .npz or .csv file, a directory, or a YAML dataset file");
    }

    /// <summary>The teacher is a file or a zoo model, not both; a zoo name must be known; its seed belongs to it.</summary>
    private static void Teacher(RecipeData data, Dictionary<string, long> lines, Func<string, string, RecipeException> fail)
    {
        if (data.Teacher is not null && data.TeacherZoo is not null) throw fail("teacher-zoo", "give teacher (an ONNX file) or teacher-zoo (a zoo model's name), not both");
        if (data.TeacherZoo is { } zoo && !ModelZoo.Names.Contains(zoo))
            throw fail("teacher-zoo", $"unknown zoo model '{Text.Message.Name(zoo)}'; choose one of: {string.Join(", ", ModelZoo.Names)}");
        if (data.TeacherZoo is null && lines.ContainsKey("data.teacher-seed")) throw fail("teacher-seed", "belongs to teacher-zoo (the seed a zoo teacher is built with); drop it or give teacher-zoo");
    }

    /// <summary>Refuses a path that is not an existing regular file.</summary>
    public static void RequireFile(string source, long line, string key, string path, string what)
    {
        var kind = FileIdentity.Of(path).Kind;
        if (kind == FileKind.Regular) return;
        var problem = kind == FileKind.Missing ? "does not exist" : $"is {FileIdentity.Describe(kind)}, not a file";
        throw new RecipeException(source, line, null, key, $"'{Text.Message.Name(path)}' {problem}; give {what}");
    }

    private static void Lines(YamlMappingNode map, string section, Dictionary<string, long> lines)
    {
        foreach (var (k, v) in map.Children)
            if (k is YamlScalarNode { Value: { } key }) lines[$"{section}.{key}"] = v.Start.Line;
    }
}
