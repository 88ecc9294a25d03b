using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes.Quantization;
using Shrink.Techniques;
using Shrink.Zoo;

namespace Shrink.Recipes;

/// <summary>What a recipe's header names, loaded: the input model and the services its stages get (<see cref="TechniqueInputs"/>).</summary>
public static class RecipeInputs
{
    /// <summary>The input model: the ONNX file read, or the zoo network built with its seed.</summary>
    public static Model LoadModel(RecipeModel model) =>
        model.Path is { } path ? OnnxReader.Read(path) : ModelZoo.Create(model.Zoo ?? throw new ArgumentException("the recipe model has neither path nor zoo", nameof(model)), model.Seed);

    /// <summary>
    /// The data (its training set cut to the training limit), calibration samples, teacher and ONNX Runtime settings every
    /// stage of <paramref name="recipe"/> gets; data other than Fashion-MNIST is opened for <paramref name="model"/> (whose
    /// inputs decide, for example, an image folder's size).
    /// </summary>
    public static TechniqueInputs Load(Recipe recipe, Model? model = null)
    {
        var d = recipe.Data;
        var data = d.FashionMnist switch
        {
            null => d.Source is { } source ? DataSources.Open(source, d.Options, model) : null,
            var idx when d.Options is not null => DataSources.Open(idx, d.Options, model),
            RecipeData.Embedded => FashionMnist.LoadEmbedded(),
            var dir => FashionMnist.LoadDirectory(dir),
        };
        if (data is not null && d.TrainLimit is { } limit) data = data with { Train = data.Train.Take(limit) };
        return new TechniqueInputs
        {
            Data = data,
            Calibration = d.Calibration is { } calibration ? Calibration(calibration, d, model) : null,
            Runner = recipe.Runtime.ToRunnerOptions(),
            Teacher = d.Teacher is { } teacher ? OnnxReader.Read(teacher) : d.TeacherZoo is { } zoo ? ModelZoo.Create(zoo, d.TeacherSeed) : null,
            TeacherSource = d.TeacherSource ?? "the teacher",
        };
    }

    /// <summary>The calibration samples a recipe names: a <c>.npy</c> array, or the training split of any data.</summary>
    public static CalibrationSet Calibration(string spec, RecipeData data, Model? model) =>
        spec.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)
            ? CalibrationSet.FromNpy(NpyFile.Read(spec), data.CalibrationSamples, spec)
            : CalibrationSet.From(DataSources.Open(spec, data.Options, model).Train, data.CalibrationSamples);
}
