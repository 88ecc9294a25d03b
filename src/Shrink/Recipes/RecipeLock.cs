using System.Reflection;
using System.Security.Cryptography;
using Shrink.Data;
using Shrink.Onnx;
using Shrink.Zoo;

namespace Shrink.Recipes;

/// <summary>
/// The lock of a recipe: the same recipe with the SHA-256 of every input (model, Fashion-MNIST files, calibration
/// array, teacher file or zoo teacher's ONNX bytes) and the tool version filled in. Where the recipe already states a
/// hash (it is a lock itself), the input must match it. <c>shrink recipe run</c> writes it as <c>DIR/recipe.lock.yaml</c>.
/// </summary>
public static class RecipeLock
{
    /// <summary>The file name of the lock in a run's directory.</summary>
    public const string FileName = "recipe.lock.yaml";

    /// <summary>"shrink 1.2.0" (the informational version of the Shrink assembly, without build metadata).</summary>
    public static string Tool
    {
        get
        {
            var version = typeof(RecipeLock).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                ?? typeof(RecipeLock).Assembly.GetName().Version?.ToString() ?? "unknown";
            var plus = version.IndexOf('+');
            return $"shrink {(plus < 0 ? version : version[..plus])}";
        }
    }

    /// <summary>The recipe with its inputs' hashes and the tool filled in; a stated hash the input does not match is a <see cref="RecipeException"/>.</summary>
    public static Recipe Resolve(Recipe recipe)
    {
        var model = recipe.Model with { Sha256 = Check(recipe, "model.sha256", recipe.Model.Sha256, ModelHash(recipe.Model), recipe.Model.ToString()) };
        var d = recipe.Data;
        var data = d with
        {
            FashionMnistSha256 = d.FashionMnist is null ? null : Check(recipe, "data.fashion-mnist-sha256", d.FashionMnistSha256, FashionMnistHash(d.FashionMnist), $"Fashion-MNIST ({d.FashionMnist})"),
            SourceSha256 = d.Source is null ? null : Check(recipe, "data.source-sha256", d.SourceSha256, DataHash(d.Source), d.Source),
            CalibrationSha256 = d.Calibration is null ? null : Check(recipe, "data.calibration-sha256", d.CalibrationSha256, DataHash(d.Calibration), d.Calibration),
            TeacherSha256 = d.TeacherSource is not { } teacher ? null
                : Check(recipe, "data.teacher-sha256", d.TeacherSha256, d.Teacher is { } file ? ModelFileHash(file) : ModelHash(RecipeModel.FromZoo(teacher, d.TeacherSeed)), TeacherName(d)),
        };
        return recipe with { Model = model, Data = data, Tool = Tool };
    }

    private static string TeacherName(RecipeData d) => d.Teacher ?? $"zoo teacher {d.TeacherZoo} (seed {d.TeacherSeed})";

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string FileHash(string path)
    {
        using var stream = DataFiles.Open(path, "input file");
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>
    /// Lower-case hex SHA-256 of data: a file's bytes, or for a directory every regular file below it in ordinal order of
    /// its relative path (with '/' separators), each as its path, a zero byte, its length and its bytes.
    /// </summary>
    public static string DataHash(string path)
    {
        if (!Directory.Exists(path)) return FileHash(path);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var files = Directory.EnumerateFiles(path, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint })
            .Select(f => (Full: f, Relative: Path.GetRelativePath(path, f).Replace('\\', '/'))).OrderBy(f => f.Relative, StringComparer.Ordinal);
        foreach (var (full, relative) in files)
        {
            using var stream = DataFiles.Open(full, "data file");
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(relative + "\0" + stream.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\0"));
            Append(hash, stream);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The hash of a model: its file then its external data files, or a zoo model's ONNX bytes.</summary>
    public static string ModelHash(RecipeModel model)
    {
        if (model.Path is not { } path) return Convert.ToHexStringLower(SHA256.HashData(OnnxWriter.ToBytes(ModelZoo.Create(model.Zoo!, model.Seed))));
        return ModelFileHash(path);
    }

    /// <summary>
    /// The SHA-256 of the model file at <paramref name="path"/> followed by the external data files it names, in the order
    /// it first names them: a model without external data hashes as <see cref="FileHash"/> does. A missing data file is a
    /// <see cref="DataException"/> naming it.
    /// </summary>
    public static string ModelFileHash(string path)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in new[] { path }.Concat(ExternalDataFiles.Referenced(path)))
        {
            using var stream = DataFiles.Open(file, file == path ? "model file" : "external data file");
            Append(hash, stream);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The hash of the four IDX files in the order train images, train labels, test images, test labels (the embedded subset's compressed files).</summary>
    public static string FashionMnistHash(string directoryOrEmbedded)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var set = directoryOrEmbedded == RecipeData.Embedded ? null : IdxFileSet.Find(directoryOrEmbedded);
        foreach (var name in IdxFileSet.Names)
        {
            using var stream = set is null ? FashionMnist.OpenResource(name + ".gz") : DataFiles.Open(set.Path(name), "Fashion-MNIST file");
            Append(hash, stream);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void Append(IncrementalHash hash, Stream stream)
    {
        var buffer = new byte[1 << 16];
        int n;
        while ((n = stream.Read(buffer)) > 0) hash.AppendData(buffer, 0, n);
    }

    private static string Check(Recipe recipe, string key, string? expected, string actual, string what) =>
        expected is null || string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase) ? actual
            : throw new RecipeException(recipe.Source, recipe.LineOf(key), null, key,
                $"{Text.Message.Name(what)} has SHA-256 {actual}, not the {expected} the recipe names; the input changed since the recipe was locked");
}
