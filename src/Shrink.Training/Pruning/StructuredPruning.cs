using Shrink.Ir;
using Shrink.Passes;
using Shrink.Passes.Cleanup;
using Shrink.Passes.Pruning;
using Shrink.Techniques;
using Shrink.Training.FineTuning;

namespace Shrink.Training.Pruning;

/// <summary>
/// Structured pruning's schedule: (slim: trains with an L1 penalty on BatchNorm γ first; apoz, entropy,
/// taylor-filter: measures the channels on training data each round), ranks each channel group, cuts the
/// lowest channels out of the graph, optionally fine-tunes the smaller model; iterative: K rounds along the
/// cubic ramp, in fractions of the original channel counts.
/// </summary>
internal static class StructuredPruning
{
    public static TechniqueResult Run(Model model, PruneOptions options, TechniqueInputs inputs, TechniqueSession session)
    {
        var (tuning, rounds, target) = (options.FineTune, options.Rounds, options.Sparsity ?? 0);
        // Each layer owns its weights before anything is scored or cut (the pass's own notes name the weights kept tied).
        model = new PassPipeline(new UnshareInitializersPass()).Run(model, new PassContext()).Model;
        if (options.Method == PruneMethod.Slim)
        {
            var slim = model;
            model = FineTuner.Run(model, tuning with { Epochs = options.SlimEpochs }, inputs, session, "slim sparsity training",
                ex => new ITrainingHook[] { new SlimHook(ex, slim, options.SlimPenalty) }).Model;
        }
        var original = ChannelGroups.Find(model).ToDictionary(g => g.Key, g => g.Channels);
        foreach (var block in AttentionHeads.Find(model).Blocks) original.TryAdd(block.Name, block.Heads); // heads, by attention block
        CheckGroups(options, original.Keys);
        var kept = new Dictionary<string, long[]>();
        var (modified, notes) = (false, new List<string>());
        for (var round = 1; round <= rounds; round++)
        {
            var scores = inputs.Data is { } data ? Pruner.ChannelScores(model, options, data.Train, round) : null;
            var ramp = PruneMethods.Ramp(round, rounds);
            var step = options.Structured() with
            {
                ChannelScores = scores, OriginalChannels = original, Sparsity = target * ramp,
                GroupSparsity = options.GroupSparsity?.ToDictionary(kv => kv.Key, kv => kv.Value * ramp),
            };
            var context = new PassContext { Verbosity = session.Verbosity, Naming = session.Naming };
            var result = new PassPipeline(new StructuredPrunePass(step)).Run(model, context);
            modified |= result.Modified;
            model = result.Model;
            Compose(kept, result.Artifact<KeptChannels>()!.Groups.ToDictionary(kv => kv.Key, kv => kv.Value.Kept));
            notes = context.Notes;
            if (round == rounds && !modified)
                throw OptionsException.For(nameof(PruneOptions.Sparsity), $"{target}: no channel group could be pruned: {string.Join("; ", notes.DefaultIfEmpty("every group is too small"))}");
            if (tuning.Epochs > 0)
                model = FineTuner.Run(model, tuning, inputs, session, rounds == 1 ? "fine-tune" : $"round {round}/{rounds} fine-tune", seed: tuning.Seed + round - 1).Model;
        }
        var artifact = new KeptChannels { Groups = kept.ToDictionary(kv => kv.Key, kv => new ChannelSelection(original[kv.Key], kv.Value)) };
        return new TechniqueResult(model, new IArtifact[] { artifact }, notes);
    }

    /// <summary>Refuses per-group fractions naming a group the model does not have.</summary>
    private static void CheckGroups(PruneOptions options, IEnumerable<string> groups)
    {
        var known = groups.ToHashSet();
        if (options.GroupSparsity?.Keys.FirstOrDefault(k => !known.Contains(k)) is { } unknown)
            throw OptionsException.For(nameof(PruneOptions.GroupSparsity), $"names '{unknown}', which is not a channel group of the model; its groups are {string.Join(", ", known.Order(StringComparer.Ordinal).Take(8))}{(known.Count > 8 ? ", …" : "")}");
    }

    /// <summary>
    /// Adds a round's kept channels (indices into the channels the round started with) to those of the rounds
    /// before, so that <paramref name="kept"/> holds indices into the original channels.
    /// </summary>
    internal static void Compose(Dictionary<string, long[]> kept, IReadOnlyDictionary<string, long[]> round)
    {
        foreach (var (group, indices) in round)
            kept[group] = kept.TryGetValue(group, out var before) ? indices.Select(i => before[i]).ToArray() : indices;
    }
}
