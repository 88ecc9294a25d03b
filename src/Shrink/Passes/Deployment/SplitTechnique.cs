using Shrink.Ir;
using Shrink.Techniques;

namespace Shrink.Passes.Deployment;

/// <summary>
/// <c>split</c> as a technique and recipe stage: plans the cuts with <see cref="SplitPass"/> and returns the model as it
/// was (splitting changes where it runs, not what it computes) with the <see cref="SplitPlan"/> artifact; a recipe run
/// writes the parts and their manifest beside the stage's model (<c>NN-split.parts/</c>), and a library user writes them
/// with <see cref="Runtime.Split.SplitWriter"/>. Needs no data and no training.
/// </summary>
public sealed class SplitTechnique : Technique<SplitOptions>
{
    public override string Id => "split";

    public override string Summary => "cut a model into parts that run one after another, each under a weight or memory bound";

    public override IReadOnlyList<string> Check(Model model, SplitOptions options, TechniqueInputs inputs)
    {
        options.Validate();
        return Array.Empty<string>();
    }

    public override TechniqueResult Run(Model model, SplitOptions options, TechniqueInputs inputs, TechniqueSession session)
    {
        var plan = new SplitPass(options).Plan(model);
        var note = Describe(plan);
        session.Note(note);
        return new TechniqueResult(model.Clone(), [plan], [note]);
    }

    /// <summary>One line: how many parts, their largest weights and what crosses the cuts.</summary>
    public static string Describe(SplitPlan plan)
    {
        var carried = plan.Boundary.Count(t => t.FromPart >= 0);
        var fused = plan.FusedCuts == 0 ? "" : $"; {plan.FusedCuts} cut(s) separate ops ONNX Runtime fuses, so outputs may differ in the last bits";
        return $"{plan.Parts.Count} parts, largest weights {plan.Parts.Max(p => p.WeightBytes)} bytes, {carried} tensor(s) passed between parts ({plan.CrossingBytes} bytes at batch {plan.Batch}){fused}";
    }
}
