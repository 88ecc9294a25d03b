using Shrink.Ir;
using Shrink.Passes.Pruning;
using Shrink.Techniques;

namespace Shrink.Training.Pruning;

/// <summary>
/// <c>prune</c>: unstructured and structured pruning with every criterion and schedule (<see cref="Pruner.Run"/>),
/// as a recipe stage. Needs data for the data-driven criteria, fine-tuning, slim and AGP; trains when it fine-tunes.
/// </summary>
public sealed class PruneTechnique : Technique<PruneOptions>
{
    public override string Id => "prune";
    public override string Summary => "zero weights (magnitude, random, taylor, N:M) or cut channels (l1-filter, fpgm, bn-scale, slim, apoz, …), oneshot, iterative or AGP, with fine-tuning";

    public override IReadOnlyList<string> Check(Model model, PruneOptions options, TechniqueInputs inputs)
    {
        options.Validate(inputs.Data is not null, inputs.Teacher is not null);
        var reasons = new List<string>();
        if (options.Method.IsStructured())
        {
            if (ChannelGroups.Find(model).Count == 0) reasons.Add("the model has nothing prunable by channel (no Conv, Gemm or MatMul producing channels)");
        }
        else if (PrunableWeights.Problem(PrunableWeights.Find(model), options.LayerSparsity) is { } problem) reasons.Add(problem);
        return reasons;
    }

    public override TechniqueResult Run(Model model, PruneOptions options, TechniqueInputs inputs, TechniqueSession session) =>
        Pruner.Run(model, options, inputs, session);
}
