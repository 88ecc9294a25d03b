using Shrink.Data;
using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Techniques;
using Shrink.Training.FineTuning;

namespace Shrink.Training.Pruning;

/// <summary>
/// Pruning with every method and schedule, from code: unstructured (magnitude, random, taylor, N:M) and
/// structured (l1-filter, l2-filter, fpgm, bn-scale, slim, apoz, entropy, taylor-filter); oneshot, iterative
/// (K rounds of prune → fine-tune, the sparsity rising along Zhu &amp; Gupta's cubic ramp
/// <see cref="PruneMethods.Ramp"/>) or AGP (gradual magnitude pruning while fine-tuning); slim's L1 sparsity
/// training before the cut; fine-tuning through <see cref="FineTuner.Run"/>, one labelled run per round
/// ("round 2/3 fine-tune"), with a teacher when the options distill. The data-free parts are the passes of
/// <c>Shrink</c> (<see cref="UnstructuredPrunePass"/>, <see cref="StructuredPrunePass"/>); this adds what trains.
/// The input model is not modified.
/// </summary>
public static class Pruner
{
    /// <summary>
    /// Prunes a copy of <paramref name="model"/>. Returns the pruned (and fine-tuned) model, its artifacts —
    /// <see cref="PruningMasks"/> (unstructured) or <see cref="KeptChannels"/> (structured, indices into the
    /// original channels) — and the pruning's notes (groups left alone and why). Training runs report to the session.
    /// </summary>
    public static TechniqueResult Run(Model model, PruneOptions options, TechniqueInputs inputs, TechniqueSession session)
    {
        options.Validate(inputs.Data is not null, inputs.Teacher is not null);
        inputs = inputs.WithOriginal(model);  // fine-tuning without labels distills from it
        var copy = model.Clone();
        if (options.Method.IsStructured()) return StructuredPruning.Run(copy, options, inputs, session);
        return options.Schedule == PruneSchedule.Agp ? Gradually(copy, options, inputs, session) : Unstructured(copy, options, inputs, session);
    }

    /// <summary>K rounds of prune → fine-tune with the masks held (one round when oneshot).</summary>
    private static TechniqueResult Unstructured(Model model, PruneOptions options, TechniqueInputs inputs, TechniqueSession session)
    {
        var (tuning, rounds, context) = (options.FineTune, options.Rounds, new PassContext());
        var masks = new PruningMasks();
        for (var round = 1; round <= rounds; round++)
        {
            var step = Round(options.Unstructured(), round, rounds);
            if (options.Method == PruneMethod.Taylor)
            {
                TorchRuntime.EnsureInitialized();
                step = step with { Scores = TaylorSaliency.Measure(model, inputs.Data!.Train, seed: tuning.Seed + round) };
            }
            var result = new PassPipeline(new UnstructuredPrunePass(step)).Run(model, context);
            model = result.Model;
            masks = result.Artifact<PruningMasks>()!;
            if (tuning.Epochs == 0 || inputs.Data is null) continue;
            var held = masks;
            model = FineTuner.Run(model, tuning, inputs, session, $"round {round}/{rounds} fine-tune", ex => new ITrainingHook[] { new MaskHook(ex, held) }, tuning.Seed + round).Model;
        }
        return new TechniqueResult(model, new IArtifact[] { masks }, context.Notes);
    }

    /// <summary>Round <paramref name="round"/> of <paramref name="rounds"/>: the sparsities scaled by the cubic ramp.</summary>
    private static UnstructuredPruneOptions Round(UnstructuredPruneOptions options, int round, int rounds)
    {
        if (rounds == 1) return options;
        var fraction = PruneMethods.Ramp(round, rounds);
        return options with
        {
            Sparsity = options.Sparsity * fraction,
            LayerSparsity = options.LayerSparsity?.ToDictionary(kv => kv.Key, kv => kv.Value * fraction),
        };
    }

    /// <summary>Automated gradual pruning: trains the model while the magnitude masks tighten to the target.</summary>
    private static TechniqueResult Gradually(Model model, PruneOptions options, TechniqueInputs inputs, TechniqueSession session)
    {
        var tuning = options.FineTune;
        var train = inputs.RequireData("agp").Train;
        var totalSteps = (long)tuning.Epochs * ((train.Count + tuning.Batch - 1) / tuning.Batch);
        var pruned = FineTuner.Run(model, tuning, inputs, session, "agp", ex => new ITrainingHook[] { new AgpHook(ex, options.Unstructured(), totalSteps) }).Model;
        // The hook multiplies every weight by its mask after each step: the zeros are the masks.
        return new TechniqueResult(pruned, new IArtifact[] { PruningMasks.FromZeros(pruned) }, Array.Empty<string>());
    }

    /// <summary>The data-driven channel scores of round <paramref name="round"/> (apoz, entropy, taylor-filter), or null for the other criteria.</summary>
    internal static Dictionary<string, double[]>? ChannelScores(Model model, PruneOptions options, IDataSource train, int round) => options.Method switch
    {
        PruneMethod.Apoz or PruneMethod.Entropy => ActivationCriteria.Measure(model, train, options.Method, options.ScoreSamples),
        PruneMethod.TaylorFilter => MeasureTaylor(model, train, options.FineTune.Seed + round),
        _ => null,
    };

    private static Dictionary<string, double[]> MeasureTaylor(Model model, IDataSource train, int seed)
    {
        TorchRuntime.EnsureInitialized();
        return TaylorSaliency.MeasureChannels(model, train, seed: seed);
    }
}
