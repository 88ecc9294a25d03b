using Shrink.Passes.Factorization;
using Shrink.Passes.Merging;
using Shrink.Passes.Precision;
using Shrink.Passes.Pruning;
using Shrink.Passes.Quantization;
using Shrink.Passes.Sharing;
using Shrink.Recipes;
using Shrink.Search;
using Shrink.Training.Distillation;
using Shrink.Training.Factorization;
using Shrink.Training.FineTuning;
using Shrink.Training.Pruning;
using Shrink.Training.Sharing;

namespace Shrink.Training.Optimization;

/// <summary>
/// Turns a configuration of <see cref="CompressionSpace"/> into the recipe that makes its model: the stages of the
/// registered techniques (<c>prune</c>, <c>factorize</c>, <c>merge</c>, <c>quantize</c>, <c>cluster</c>, <c>convert-precision</c>) with their options records, on
/// the original model and data, with the teacher every fine-tuning distills from. So every trial is a recipe, and
/// <c>shrink recipe run</c> of the best trial's recipe rebuilds its model bit for bit.
/// </summary>
public static class CompressionPlan
{
    /// <summary>The recipe of <paramref name="c"/> on <paramref name="model"/> and <paramref name="data"/> (whose <see cref="RecipeData.Teacher"/> is the teacher).</summary>
    /// <remarks>
    /// <paramref name="floatLayers"/> stay float in static and mixed quantization (layers whose int8 kernel is slower);
    /// <paramref name="merging"/> is what <c>merge</c> = on runs (<see cref="CompressionSpace.Merging"/>).
    /// </remarks>
    public static Recipe Recipe(Configuration c, RecipeModel model, RecipeData data, RecipeRuntime runtime, int seed, IReadOnlySet<string>? floatLayers = null,
        MergeOptions? merging = null)
    {
        var stages = Stages(c, seed, floatLayers ?? new HashSet<string>(), merging);
        if (stages.Count == 0) stages.Add(new RecipeStage("fold-constants", TechniqueOptions("fold-constants")));
        return new Recipe { Version = data.RequiredVersion, Model = model, Data = data, Runtime = runtime, Stages = stages, Source = "optimize" };
    }

    /// <summary>Why <paramref name="c"/> is not a model worth building, or null: mixed precision names layers that factorization or merging replaces.</summary>
    public static string? Refusal(Configuration c) => c.GetString(CompressionSpace.Weights) != "mixed" ? null
        : c.GetString(CompressionSpace.Structure) == "factorize" ? "mixed precision names the original layers, which factorization replaces; not searched together (static int8 is)"
        : c.Has(CompressionSpace.Merge) && c.GetString(CompressionSpace.Merge) == "on" ? "mixed precision names the original layers, which merging may replace; not searched together (static int8 is)"
        : null;

    /// <summary>
    /// What makes two configurations one trial: the SHA-256 of the stages their recipe holds (technique and options), so
    /// configurations that differ only where it changes nothing (epochs with nothing to fine-tune, every layer at sparsity 0,
    /// mixed precision with every layer float) are proposed once; null — never proposed — for a configuration that builds
    /// the input model unchanged (no stage) or that <see cref="Refusal"/> refuses.
    /// </summary>
    public static ConfigurationKey Key(int seed, IReadOnlySet<string>? floatLayers = null, MergeOptions? merging = null) => new("recipe-stages", c =>
    {
        if (Refusal(c) is not null) return null;
        var stages = Stages(c, seed, floatLayers ?? new HashSet<string>(), merging);
        return stages.Count == 0 ? null : CanonicalJson.Sha256(string.Join("\n", stages.Select(st => st.Technique + "\n" + RecipeWriter.OptionsToYaml(st.Options))));
    });

    private static List<RecipeStage> Stages(Configuration c, int seed, IReadOnlySet<string> floatLayers, MergeOptions? merging)
    {
        var tune = FineTune(c, seed);
        var stages = new List<RecipeStage>();
        switch (c.GetString(CompressionSpace.Structure))
        {
            case "unstructured":
                var sparsity = Prefixed(c, "sparsity[").Where(kv => kv.Value.GetDouble() > 0).ToDictionary(kv => kv.Key, kv => kv.Value.GetDouble());
                // With fine-tuning, gradually (AGP over the epochs, as Deep Compression's pipeline prunes); without, at once.
                var schedule = tune.Epochs > 0 ? PruneSchedule.Agp : PruneSchedule.Oneshot;
                if (sparsity.Count > 0) stages.Add(new("prune", new PruneOptions { Method = PruneMethod.Magnitude, LayerSparsity = sparsity, Schedule = schedule, FineTune = tune }));
                break;
            case "structured":
                if (Structured(c, tune) is { } structured) stages.Add(new("prune", structured));
                break;
            case "factorize":
                stages.Add(new("factorize", new FactorizeTechniqueOptions { LowRank = new LowRankOptions { Energy = c.GetDouble(CompressionSpace.Energy) }, FineTune = tune }));
                break;
        }
        if (c.Has(CompressionSpace.Merge) && c.GetString(CompressionSpace.Merge) == "on")
            stages.Add(new("merge", merging ?? throw new ArgumentException("the configuration merges and no merging options are given", nameof(merging))));
        if (Weights(c, seed, floatLayers) is { } weights) stages.Add(weights);
        return stages;
    }

    /// <summary>L1 filter pruning at the one <c>channel-ratio</c>, or at each group's <c>channel-ratio[group]</c> (groups at 0 left out; null when all are).</summary>
    private static PruneOptions? Structured(Configuration c, FineTuneOptions tune)
    {
        if (c.Has(CompressionSpace.ChannelRatio)) return new PruneOptions { Method = PruneMethod.L1Filter, Sparsity = c.GetDouble(CompressionSpace.ChannelRatio), FineTune = tune };
        var groups = Prefixed(c, CompressionSpace.ChannelRatio + "[").Where(kv => kv.Value.GetDouble() > 0).ToDictionary(kv => kv.Key, kv => kv.Value.GetDouble());
        return groups.Count == 0 ? null : new PruneOptions { Method = PruneMethod.L1Filter, GroupSparsity = groups, FineTune = tune };
    }

    private static RecipeStage? Weights(Configuration c, int seed, IReadOnlySet<string> floatLayers) => c.GetString(CompressionSpace.Weights) switch
    {
        "static" => new("quantize", new QuantizeOptions { Mode = QuantizeMode.Static, PerChannel = true, Layers = floatLayers.Count == 0 ? null : Float(floatLayers) }),
        "dynamic" => new("quantize", new QuantizeOptions { Mode = QuantizeMode.Dynamic }),
        CompressionSpace.Fp16 => new("convert-precision", new PrecisionOptions { Format = HalfFormat.Float16 }),
        CompressionSpace.Bf16 => new("convert-precision", new PrecisionOptions { Format = HalfFormat.BFloat16 }),
        CompressionSpace.Fp16Compute => new("convert-precision", new PrecisionOptions { Format = HalfFormat.Float16, Compute = true }),
        "mixed" when Prefixed(c, "bits[").All(kv => kv.Value.GetString() == "float") => null,
        "mixed" => new("quantize", new QuantizeOptions { Mode = QuantizeMode.Static, PerChannel = true, Layers = Mixed(c, floatLayers) }),
        "cluster" => new("cluster", new ClusterTechniqueOptions
        {
            Sharing = new ClusterOptions
            {
                Bits = (int)c.GetInt(CompressionSpace.ClusterBits), Seed = seed,
                ConvBits = c.Has(CompressionSpace.ClusterConvBits) ? (int)c.GetInt(CompressionSpace.ClusterConvBits) : null,
            },
            FineTune = FineTune(c, seed) with { LearningRate = c.Has(CompressionSpace.ClusterLearningRate) ? c.GetDouble(CompressionSpace.ClusterLearningRate) : 0.001 },
        }),
        _ => null,
    };

    private static Dictionary<string, WeightPrecision> Float(IEnumerable<string> layers) => layers.ToDictionary(l => l, _ => WeightPrecision.Float);

    /// <summary>Each layer's precision from its <c>bits[layer]</c>, and float for <paramref name="floatLayers"/>.</summary>
    private static Dictionary<string, WeightPrecision> Mixed(Configuration c, IReadOnlySet<string> floatLayers)
    {
        var layers = Prefixed(c, "bits[").ToDictionary(kv => kv.Key,
            kv => kv.Value.GetString() switch { "int4" => WeightPrecision.Int4, "float" => WeightPrecision.Float, _ => WeightPrecision.Int8 });
        foreach (var l in floatLayers) layers[l] = WeightPrecision.Float;
        return layers;
    }

    /// <summary>The fine-tuning of every training stage: the configuration's epochs, distilling from the inputs' teacher.</summary>
    private static FineTuneOptions FineTune(Configuration c, int seed)
    {
        var epochs = (int)c.GetInt(CompressionSpace.Epochs);
        return new FineTuneOptions { Epochs = epochs, Seed = seed, Distillation = epochs > 0 ? new DistillationOptions() : null };
    }

    /// <summary>The per-layer values of <paramref name="prefix"/> ("sparsity[", "bits["), keyed by layer.</summary>
    private static IEnumerable<KeyValuePair<string, System.Text.Json.JsonElement>> Prefixed(Configuration c, string prefix) =>
        c.Values.Where(v => v.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(v => KeyValuePair.Create(v.Key[prefix.Length..^1], v.Value));

    private static object TechniqueOptions(string id) => Activator.CreateInstance(Techniques.TechniqueRegistry.Find(id).OptionsType)!;
}
