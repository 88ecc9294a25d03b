using Shrink.Data;
using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Passes.Quantization;
using Shrink.Passes.Sharing;
using Shrink.Techniques;
using Shrink.Training.FineTuning;
using Shrink.Training.Pruning;
using Shrink.Passes.Cleanup;

namespace Shrink.Training.Sharing;

/// <summary>The options of <c>cluster</c>: the weight sharing, then the optional centroid fine-tuning (0 epochs by default).</summary>
public sealed record ClusterTechniqueOptions
{
    public ClusterOptions Sharing { get; init; } = new();

    /// <summary>Centroid fine-tuning: SGD momentum 0.9, cosine, learning rate 0.001 by default; 0 epochs skips it.</summary>
    public FineTuneOptions FineTune { get; init; } = new() { LearningRate = 0.001 };
}

/// <summary>
/// <c>cluster</c>: weight sharing by 1-D k-means (Han et al., Deep Compression; <see cref="ClusterPass"/>), then, with
/// fine-tuning epochs and data, centroid fine-tuning: the gradients of a cluster summed into its centroid
/// (<see cref="ClusterHook"/>) and pruned weights held at zero (<see cref="MaskHook"/>). Returns the clustered float
/// model and its <see cref="Codebooks"/> (as fine-tuning left them). Data-free unless it fine-tunes; keeps every shape.
/// </summary>
public sealed class ClusterTechnique : Technique<ClusterTechniqueOptions>
{
    public override string Id => "cluster";
    public override string Summary => "share weights by k-means (Deep Compression), optionally fine-tuning the centroids";

    public override IReadOnlyList<string> Check(Model model, ClusterTechniqueOptions options, TechniqueInputs inputs)
    {
        Validate(options, inputs);
        return new ClusterPass(options.Sharing).CheckPreconditions(model) is { } reason ? new[] { reason } : Array.Empty<string>();
    }

    public override TechniqueResult Run(Model model, ClusterTechniqueOptions options, TechniqueInputs inputs, TechniqueSession session)
    {
        Validate(options, inputs);
        var pass = new ClusterPass(options.Sharing);
        if (pass.Refusal(model) is { } reason) throw new OptionsException(reason);
        if (inputs.Data is { } sets) DataBinding.For(model, sets.Test);  // data that does not fit is refused before any work
        var context = new PassContext();
        var clustered = new PassPipeline(new UnshareInitializersPass(), pass).Run(model, context).Model;
        if (options.FineTune.Epochs > 0)
        {
            var weights = ClusterPass.ReadBits(clustered).Keys.ToList();
            var masks = PruningMasks.FromZeros(clustered);
            var tuned = FineTuner.Run(clustered, options.FineTune, inputs.WithOriginal(model), session, "centroid fine-tune",
                ex => new ITrainingHook[] { new MaskHook(ex, masks), new ClusterHook(ex, weights) }).Model;
            foreach (var kv in clustered.Metadata.ToList()) tuned.SetMetadata(kv.Key, kv.Value);
            clustered = tuned;
        }
        return new TechniqueResult(clustered, new IArtifact[] { Codebooks.From(clustered) }, context.Notes.ToList());
    }

    private static void Validate(ClusterTechniqueOptions options, TechniqueInputs inputs)
    {
        options.Sharing.Validate();
        options.FineTune.CheckOptional(hasData: inputs.Data is not null, hasTeacher: inputs.Teacher is not null);
    }
}
