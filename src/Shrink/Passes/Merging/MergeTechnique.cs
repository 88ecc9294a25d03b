using Shrink.Ir;
using Shrink.Techniques;

namespace Shrink.Passes.Merging;

/// <summary>
/// <c>merge</c>: layer merging with no training — consecutive linear layers into one (<see cref="MergeConsecutivePass"/>),
/// parallel layers reading one tensor into one wider layer and a Split where ONNX Runtime runs that faster
/// (<see cref="MergeParallelPass"/>), and near-identical weight tensors into one shared tensor (<see cref="ShareWeightsPass"/>),
/// in that order, the kinds <see cref="MergeOptions.Only"/> names. Needs no data. Artifact: <see cref="LayerMerges"/>, every
/// merge of every pass in order.
/// </summary>
public sealed class MergeTechnique : Technique<MergeOptions>
{
    public override string Id => "merge";

    public override string Summary => "layer merging: consecutive linear layers into one, parallel layers into one wider layer where faster, near-identical weights shared";

    public override IReadOnlyList<string> Check(Model model, MergeOptions options, TechniqueInputs inputs)
    {
        options.Validate();
        return Array.Empty<string>();
    }

    public override TechniqueResult Run(Model model, MergeOptions options, TechniqueInputs inputs, TechniqueSession session)
    {
        options.Validate();
        var passes = options.Kinds.Select(k => k switch
        {
            MergeKind.Consecutive => (IPass)new MergeConsecutivePass(options.Consecutive),
            MergeKind.Parallel => new MergeParallelPass(options.Parallel),
            _ => new ShareWeightsPass(options.Share),
        }).ToArray();
        var context = new PassContext { Naming = session.Naming, Runner = inputs.Runner, Verbosity = session.Verbosity };
        var result = new PassPipeline(passes).Run(model, context);
        foreach (var note in context.Notes) session.Note(note);
        var all = context.Artifacts.OfType<LayerMerges>().ToList();
        var merges = new LayerMerges { Merges = all.SelectMany(a => a.Merges).ToList(), ParallelLatency = all.Select(a => a.ParallelLatency).LastOrDefault(l => l is not null) };
        return new TechniqueResult(result.Model, new IArtifact[] { merges }, context.Notes.ToList());
    }
}
