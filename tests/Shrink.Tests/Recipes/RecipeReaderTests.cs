using Shrink.Passes.Pruning;
using Shrink.Passes.Quantization;
using Shrink.Recipes;
using Shrink.Techniques;
using Xunit;

namespace Shrink.Tests.Recipes;

/// <summary>Reading recipes: typed options with defaults filled in, and one line for each refusal. (The round trip through the writer, which takes
/// every technique's options, training ones included, is tested in Shrink.Training.Tests.)</summary>
public class RecipeReaderTests
{
    [Fact]
    public void Options_are_typed_records_with_the_defaults_filled_in()
    {
        using var dir = new TempDirectory();
        var recipe = RecipeText.Load(dir, RecipeText.Header + """
            stages:
              - technique: prune-unstructured
                options:
                  sparsity: 0.75
                  layer-sparsity: { fc1.weight: 0.9 }
              - technique: quantize-dynamic
                options: { calibration: MinMax, exclude: [a, b], reduce-range: off }
              - technique: fold-constants
            """);
        Assert.Equal(["prune-unstructured", "quantize-dynamic", "fold-constants"], recipe.Stages.Select(s => s.Technique));
        var prune = Assert.IsType<UnstructuredPruneOptions>(recipe.Stages[0].Options);
        Assert.Equal(0.75, prune.Sparsity);
        Assert.Equal(PruneMethod.Magnitude, prune.Method);       // the default
        Assert.Equal(0.9, prune.LayerSparsity!["fc1.weight"]);
        var quantize = Assert.IsType<QuantizationOptions>(recipe.Stages[1].Options);
        Assert.Equal(CalibrationMethod.MinMax, quantize.Calibration);
        Assert.Equal(ReduceRange.Off, quantize.ReduceRange);
        Assert.Equal(new[] { "a", "b" }, quantize.Exclude.Order());
        Assert.True(quantize.PerChannel);                         // the pass's default
        Assert.IsType<NoOptions>(recipe.Stages[2].Options);
        Assert.Equal("lenet300", recipe.Model.Zoo);
        Assert.Equal(9, recipe.Stages[1].Line);
    }

    [Theory]
    [InlineData("      sparsty: 0.5\n", 8, "stage 2 (prune-unstructured), options.sparsty: unknown key; known keys: method, sparsity")]
    [InlineData("      sparsity: high\n", 8, "stage 2 (prune-unstructured), options.sparsity: must be a number, not 'high'")]
    [InlineData("      sparsity: '0.5'\n", 8, "options.sparsity: must be a number, not the quoted string '0.5'")]
    [InlineData("      seed: 1.5\n", 8, "options.seed: must be an integer from -2147483648 to 2147483647, not '1.5'")]
    [InlineData("      scope: planet\n", 8, "options.scope: must be one of")]
    [InlineData("      layer-sparsity: [1]\n", 8, "options.layer-sparsity: must be a mapping of names to a number, not a list")]
    [InlineData("      method: ~\n", 8, "options.method: must be one of magnitude, random, taylor, nm, l1-filter")]
    public void A_bad_option_is_refused_with_its_stage_key_and_line(string option, int line, string expected)
    {
        using var dir = new TempDirectory();
        var e = RecipeText.Refusal(dir, RecipeText.Header + "stages:\n  - technique: fold-constants\n  - technique: prune-unstructured\n    options:\n" + option);
        Assert.StartsWith($"{dir.File("recipe.yaml")}:{line}: ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Equal(line, e.Line);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void An_unknown_technique_is_refused_with_the_known_ones()
    {
        using var dir = new TempDirectory();
        var e = RecipeText.Refusal(dir, RecipeText.Header + "stages:\n  - technique: fold-constants\n  - technique: prune-magic\n");
        Assert.Equal(6, e.Line);
        Assert.Contains("stage 2 (prune-magic), technique: unknown technique 'prune-magic'; known techniques: ", e.Message);
        Assert.Contains("prune-unstructured", e.Message);
    }

    [Theory]
    [InlineData("version: 1\nmodel: missing.onnx\nstages:\n  - technique: fold-constants\n", 2, "model.path: '{dir}/missing.onnx' does not exist; give an ONNX model")]
    [InlineData("version: 1\nmodel:\n  zoo: lenet300\ndata:\n  calibration: none.npy\nstages:\n  - technique: fold-constants\n", 5, "data.calibration: '{dir}/none.npy' does not exist")]
    [InlineData("version: 1\nmodel:\n  zoo: lenet300\ndata:\n  teacher: t.onnx\nstages:\n  - technique: fold-constants\n", 5, "data.teacher: '{dir}/t.onnx' does not exist")]
    [InlineData("version: 1\nmodel:\n  zoo: lenet300\ndata:\n  fashion-mnist: nowhere\nstages:\n  - technique: fold-constants\n", 5, "data.fashion-mnist: no Fashion-MNIST in '{dir}/nowhere' (directory does not exist)")]
    [InlineData("version: 1\nmodel:\n  zoo: lenet7\nstages:\n  - technique: fold-constants\n", 3, "model.zoo: unknown zoo model 'lenet7'")]
    public void A_missing_file_is_refused_with_its_key_and_line(string yaml, int line, string expected)
    {
        using var dir = new TempDirectory();
        var e = RecipeText.Refusal(dir, yaml);
        Assert.Equal(line, e.Line);
        Assert.Contains(expected.Replace("{dir}", dir.Path), e.Message);
    }

    [Theory]
    [InlineData("version: 3\nmodel: {zoo: lenet300}\nstages: [{technique: fold-constants}]\n", 1, "version: version 3 is not known; this Shrink reads recipes of versions 1 to 2")]
    [InlineData("version: 1\nmodel: {zoo: lenet300}\nstage: [{technique: fold-constants}]\n", 3, "stage: unknown key; known keys: version, tool, model, data, runtime, stages")]
    [InlineData("version: 1\nmodel: {zoo: lenet300}\n", 1, "stages: missing")]
    [InlineData("version: 1\nmodel: {zoo: lenet300}\nstages: []\n", 3, "stages: must be a list of one or more stages")]
    [InlineData("version: 1\nmodel: {zoo: lenet300}\nstages:\n  - technique: fold-constants\n    option: {}\n", 5, "stage 1, option: unknown key; a stage has technique and options")]
    [InlineData("version: 1\nmodel: {zoo: lenet300, path: a.onnx}\nstages: [{technique: fold-constants}]\n", 2, "model: give either path")]
    [InlineData("version: 1\nmodel: {zoo: lenet300}\nruntime: {threads: many}\nstages: [{technique: fold-constants}]\n", 3, "runtime.threads: must be an integer")]
    [InlineData("version: 1\nmodel: {zoo: lenet300}\nstages:\n  - technique: fold-constants\n    options: {x: 1}\n", 5, "stage 1 (fold-constants), options.x: unknown key; this takes no options")]
    public void A_bad_header_is_refused_with_its_key_and_line(string yaml, int line, string expected)
    {
        using var dir = new TempDirectory();
        var e = RecipeText.Refusal(dir, yaml);
        Assert.Equal(line, e.Line);
        Assert.Contains(expected.TrimEnd('\n'), e.Message);
    }

    [Fact]
    public void Broken_YAML_is_one_line_with_its_place()
    {
        using var dir = new TempDirectory();
        var e = RecipeText.Refusal(dir, "version: 1\nmodel: [zoo\n");
        Assert.InRange(e.Line, 2, 3);
        Assert.Contains("(syntax): not valid YAML: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_missing_recipe_file_is_one_line()
    {
        var e = Assert.Throws<RecipeException>(() => Recipe.Load("/nonexistent/recipe.yaml"));
        Assert.Equal("/nonexistent/recipe.yaml:0: (file): does not exist; give the path of a recipe YAML file", e.Message);
    }

    [Fact]
    public void Enum_values_read_in_kebab_case_their_CSharp_name_or_run_together()
    {
        using var dir = new TempDirectory();
        foreach (var spelling in new[] { "min-max", "MinMax", "minmax" })
        {
            var r = RecipeText.Load(dir, RecipeText.Header + $"stages:\n  - technique: quantize-dynamic\n    options: {{ calibration: {spelling} }}\n");
            Assert.Equal(CalibrationMethod.MinMax, ((QuantizationOptions)r.Stages[0].Options).Calibration);
        }
    }
}
