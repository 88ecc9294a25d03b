using Shrink.Onnx;
using Shrink.Recipes;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Recipes;

/// <summary>
/// The data keys of recipe version 2 (<c>train-limit</c>, <c>teacher-zoo</c>, <c>teacher-seed</c>), which let a recipe
/// hold what <c>shrink distill</c> takes: read, refused with key and line, written under the lowest version that holds
/// them, hashed in the lock, and loaded as the stages' inputs.
/// </summary>
public class RecipeDataTests
{
    private const string V2 = "version: 2\nmodel:\n  zoo: lenet300\ndata:\n  fashion-mnist: embedded\n";
    private const string Stages = "stages:\n  - technique: fold-constants\n";

    [Fact]
    public void Version_2_keys_are_read_and_loaded_as_the_stages_inputs()
    {
        using var dir = new TempDirectory();
        var recipe = RecipeText.Load(dir, V2 + "  train-limit: 250\n  teacher-zoo: lenet5\n  teacher-seed: 7\n" + Stages);
        Assert.Equal((2, 250, "lenet5", 7), (recipe.Version, recipe.Data.TrainLimit, recipe.Data.TeacherZoo, recipe.Data.TeacherSeed));
        var inputs = RecipeInputs.Load(recipe);
        Assert.Equal(250, inputs.Data!.Train.Count);
        Assert.Equal(1000, inputs.Data.Test.Count);   // the limit cuts the training set only
        Assert.Equal("lenet5", inputs.TeacherSource);
        Assert.Equal(OnnxWriter.ToBytes(ModelZoo.Create("lenet5", 7)), OnnxWriter.ToBytes(inputs.Teacher!));
    }

    [Fact]
    public void A_recipe_is_written_under_the_lowest_version_that_holds_it_and_reads_back_the_same()
    {
        var v1 = Recipe.FromStage(RecipeModel.FromZoo("lenet300"), new RecipeData { FashionMnist = RecipeData.Embedded }, "fold-constants", new global::Shrink.Techniques.NoOptions());
        Assert.StartsWith("# Shrink recipe, version 1: ", RecipeWriter.ToYaml(v1));
        Assert.Contains("\nversion: 1\n", RecipeWriter.ToYaml(v1));
        var v2 = v1 with { Data = v1.Data with { TrainLimit = 100, TeacherZoo = "lenet5", TeacherSeed = 3 } };
        var yaml = RecipeWriter.ToYaml(v2);
        Assert.Contains("\nversion: 2\n", yaml);
        Assert.Contains("data:\n  fashion-mnist: embedded\n  train-limit: 100\n  teacher-zoo: lenet5\n  teacher-seed: 3\n", yaml);
        var read = Recipe.Parse(yaml);
        Assert.Equal(v2.Data, read.Data);
        Assert.Equal(yaml, RecipeWriter.ToYaml(read));
    }

    [Fact]
    public void The_lock_hashes_a_zoo_teacher_and_refuses_one_that_does_not_match()
    {
        using var dir = new TempDirectory();
        var recipe = RecipeText.Load(dir, V2 + "  teacher-zoo: lenet5\n  teacher-seed: 2\n" + Stages);
        var locked = RecipeLock.Resolve(recipe);
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(OnnxWriter.ToBytes(ModelZoo.Create("lenet5", 2))));
        Assert.Equal(expected, locked.Data.TeacherSha256);
        var other = RecipeText.Load(dir, V2 + $"  teacher-zoo: lenet5\n  teacher-seed: 3\n  teacher-sha256: {expected}\n" + Stages);
        var e = Assert.Throws<RecipeException>(() => RecipeLock.Resolve(other));
        Assert.Equal(8, e.Line);
        Assert.Contains("data.teacher-sha256: zoo teacher lenet5 (seed 3) has SHA-256 ", e.Message);
        Assert.Contains($"not the {expected} the recipe names", e.Message);
    }

    [Theory]
    [InlineData("version: 1\nmodel: {zoo: lenet300}\ndata:\n  fashion-mnist: embedded\n  train-limit: 10\n", 5, "data.train-limit: is a version 2 key; write version: 2 at the top of the recipe")]
    [InlineData("version: 1\nmodel: {zoo: lenet300}\ndata:\n  teacher-zoo: lenet5\n", 4, "data.teacher-zoo: is a version 2 key")]
    [InlineData(V2 + "  train-limit: 0\n", 6, "data.train-limit: must be at least 1 (the number of training images kept), got 0")]
    [InlineData(V2 + "  teacher-zoo: lenet7\n", 6, "data.teacher-zoo: unknown zoo model 'lenet7'; choose one of: ")]
    [InlineData(V2 + "  teacher-seed: 4\n", 6, "data.teacher-seed: belongs to teacher-zoo")]
    [InlineData(V2 + "  teacher: m.onnx\n  teacher-zoo: lenet5\n", 7, "data.teacher-zoo: give teacher (an ONNX file) or teacher-zoo (a zoo model's name), not both")]
    [InlineData(V2 + "  train-limit: many\n", 6, "data.train-limit: must be an integer")]
    public void A_bad_version_2_key_is_refused_with_its_key_and_line(string yaml, int line, string expected)
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("m.onnx"), OnnxWriter.ToBytes(ModelZoo.Create("lenet300")));
        var e = RecipeText.Refusal(dir, yaml + Stages);
        Assert.Equal(line, e.Line);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
