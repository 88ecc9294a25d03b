using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Factorization;
using Shrink.Techniques;
using Shrink.Training.FineTuning;
using Shrink.Passes.Cleanup;

namespace Shrink.Training.Factorization;

/// <summary>The options of <c>factorize</c>: how ranks are chosen, then the optional fine-tuning (0 epochs by default).</summary>
public sealed record FactorizeTechniqueOptions
{
    public LowRankOptions LowRank { get; init; } = new();

    /// <summary>Fine-tuning after factorizing: SGD momentum 0.9, cosine, learning rate 0.01 by default; 0 epochs skips it.</summary>
    public FineTuneOptions FineTune { get; init; } = new();
}

/// <summary>
/// <c>factorize</c>: low-rank factorization by truncated SVD (<see cref="LowRankPass"/>: Gemm/MatMul into two
/// products, Conv into a k×k and a 1×1 convolution), then, with fine-tuning epochs and data, fine-tuning of the
/// factors. Returns the model and its <see cref="FactorizationRanks"/>. Changes shapes (more, smaller layers); data-free unless
/// it fine-tunes; a model where no layer gets smaller is refused.
/// </summary>
public sealed class FactorizeTechnique : Technique<FactorizeTechniqueOptions>
{
    public override string Id => "factorize";
    public override string Summary => "factorize Gemm/MatMul/Conv weights by truncated SVD (low rank), optionally fine-tuning";

    public override IReadOnlyList<string> Check(Model model, FactorizeTechniqueOptions options, TechniqueInputs inputs)
    {
        Validate(options, inputs);
        return new LowRankPass(options.LowRank).CheckPreconditions(model) is { } reason ? new[] { reason } : Array.Empty<string>();
    }

    public override TechniqueResult Run(Model model, FactorizeTechniqueOptions options, TechniqueInputs inputs, TechniqueSession session)
    {
        Validate(options, inputs);
        var pass = new LowRankPass(options.LowRank, TorchSvd.Instance);
        if (pass.Refusal(model) is { } reason) throw new OptionsException(reason);
        var context = new PassContext();
        var result = new PassPipeline(new UnshareInitializersPass(), pass).Run(model, context);
        if (!result.Modified)
            throw new OptionsException($"no layer was factorized: {string.Join("; ", context.Notes)}; lower the energy or the ratio");
        var factorized = result.Model;
        if (options.FineTune.Epochs > 0) factorized = FineTuner.Run(factorized, options.FineTune, inputs.WithOriginal(model), session, "fine-tune").Model;
        return new TechniqueResult(factorized, new IArtifact[] { result.Artifact<FactorizationRanks>()! }, context.Notes.ToList());
    }

    private static void Validate(FactorizeTechniqueOptions options, TechniqueInputs inputs)
    {
        options.LowRank.Validate();
        options.FineTune.CheckOptional(hasData: inputs.Data is not null, hasTeacher: inputs.Teacher is not null);
    }
}
