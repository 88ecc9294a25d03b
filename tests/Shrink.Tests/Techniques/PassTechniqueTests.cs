using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Techniques;
using Xunit;

namespace Shrink.Tests.Techniques;

/// <summary>Every registered pass is a technique under its id, with its options record, running on a copy of the model.</summary>
public class PassTechniqueTests
{
    [Fact]
    public void Every_pass_id_resolves_to_a_technique_with_the_passs_options()
    {
        Assert.NotEmpty(PassRegistry.Ids);
        foreach (var id in PassRegistry.Ids)
        {
            var technique = TechniqueRegistry.Find(id);
            Assert.Equal(id, technique.Id);
            Assert.Contains(id, TechniqueRegistry.Ids);
            Assert.Equal(PassRegistry.OptionsType(id) ?? typeof(NoOptions), technique.OptionsType);
            Assert.Same(technique, TechniqueRegistry.Find(id));
        }
    }

    [Fact]
    public void It_runs_the_pass_on_a_copy_and_reports_its_notes()
    {
        var model = global::Shrink.Zoo.ModelZoo.Create("lenet300");
        var before = OnnxWriter.ToBytes(model);
        var notes = new List<string>();
        var result = TechniqueRegistry.Find("prune-unstructured").Run(model, new UnstructuredPruneOptions { Sparsity = 0.5 }, TechniqueInputs.None, new TechniqueSession { Notes = notes.Add });
        Assert.Equal(before, OnnxWriter.ToBytes(model));
        var weights = result.Model.Graph.Initializers.Select(v => v.Const!).Where(t => t.Dims.Length == 2).SelectMany(t => t.AsFloats().ToArray()).ToList();
        Assert.InRange(weights.Count(w => w == 0) / (double)weights.Count, 0.499, 0.501);
        Assert.Equal(result.Notes, notes);
    }

    [Fact]
    public void Options_of_another_type_are_api_misuse_and_an_unknown_id_lists_the_known_ones()
    {
        var technique = TechniqueRegistry.Find("fold-constants");
        Assert.Throws<ArgumentException>(() => technique.Run(global::Shrink.Zoo.ModelZoo.Create("lenet300"), new UnstructuredPruneOptions(), TechniqueInputs.None, TechniqueSession.Quiet));
        var e = Assert.Throws<OptionsException>(() => TechniqueRegistry.Find("fold-everything"));
        Assert.StartsWith("unknown technique 'fold-everything'; known techniques: ", e.Message);
        Assert.Contains("fold-constants", e.Message);
    }
}
