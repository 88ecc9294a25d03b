using Shrink.Passes.Cleanup;
using Shrink.Passes.Factorization;
using Shrink.Passes.Merging;
using Shrink.Passes.Precision;
using Shrink.Passes.Pruning;
using Shrink.Passes.Quantization;
using Shrink.Passes.Sharing;

namespace Shrink.Passes;

/// <summary>
/// Passes by id, each with its typed options: the one place the CLI and recipes resolve a pass name
/// (never by reflection). <c>quantize-static</c> takes its activation ranges from an
/// <see cref="ActivationRanges"/> artifact in the <see cref="PassContext"/> (a calibration step's); without
/// one it quantizes only when the activations stay float (weight-only) and otherwise refuses in one line.
/// </summary>
public static class PassRegistry
{
    /// <summary>How to make one pass: its options type (null: it takes none), the defaults (null: options are required) and the constructor.</summary>
    private sealed record Entry(Type? OptionsType, object? Defaults, Func<object?, IPass> Create);

    private static Entry Plain(Func<IPass> create) => new(null, null, _ => create());

    private static Entry With<T>(Func<T, IPass> create, T? defaults = null) where T : class => new(typeof(T), defaults, o => create((T)o!));

    private static readonly Dictionary<string, Entry> Entries = new()
    {
        ["remove-unused"] = Plain(() => new RemoveUnusedPass()),
        ["fold-constants"] = Plain(() => new FoldConstantsPass()),
        ["unshare-initializers"] = Plain(() => new UnshareInitializersPass()),
        ["fold-batchnorm"] = Plain(() => new FoldBatchNormPass()),
        ["quantize-dynamic"] = With<QuantizationOptions>(o => new QuantizeDynamicPass(o), new QuantizationOptions { PerChannel = true }),
        ["quantize-static"] = With<QuantizationOptions>(o => new QuantizeStaticPass(o), new QuantizationOptions()),
        ["matmul-nbits"] = With<MatMulNBitsOptions>(o => new MatMulNBitsPass(o), new MatMulNBitsOptions()),
        ["gather-nbits"] = With<MatMulNBitsOptions>(o => new GatherNBitsPass(o), new MatMulNBitsOptions()),
        ["prune-unstructured"] = With<UnstructuredPruneOptions>(o => new UnstructuredPrunePass(o)),
        ["prune-structured"] = With<StructuredPruneOptions>(o => new StructuredPrunePass(o)),
        ["cluster-weights"] = With<ClusterOptions>(o => new ClusterPass(o), new ClusterOptions()),
        ["factorize-lowrank"] = With<LowRankOptions>(o => new LowRankPass(o), new LowRankOptions()),
        ["merge-consecutive"] = With<MergeConsecutiveOptions>(o => new MergeConsecutivePass(o), new MergeConsecutiveOptions()),
        ["merge-parallel"] = With<MergeParallelOptions>(o => new MergeParallelPass(o), new MergeParallelOptions()),
        ["convert-precision"] = With<PrecisionOptions>(o => new HalfPrecisionPass(o), new PrecisionOptions()),
        ["share-weights"] = With<ShareWeightsOptions>(o => new ShareWeightsPass(o), new ShareWeightsOptions()),
    };

    public static IReadOnlyCollection<string> Ids => Entries.Keys;

    /// <summary>The options type of pass <paramref name="id"/>, or null when it takes none.</summary>
    public static Type? OptionsType(string id) => Find(id).OptionsType;

    /// <summary>
    /// A new instance of the pass called <paramref name="id"/>, with <paramref name="options"/> of its
    /// options type (or its defaults when it has them). An unknown id, or a pass whose options have no
    /// defaults (a sparsity must be chosen), is an <see cref="OptionsException"/>; options of the wrong type
    /// are API misuse (<see cref="ArgumentException"/>).
    /// </summary>
    public static IPass Create(string id, object? options = null)
    {
        var entry = Find(id);
        if (entry.OptionsType is null)
            return options is null ? entry.Create(null) : throw new ArgumentException($"pass '{id}' takes no options", nameof(options));
        if (options is not null && !entry.OptionsType.IsInstanceOfType(options))
            throw new ArgumentException($"pass '{id}' takes {entry.OptionsType.Name}, not {options.GetType().Name}", nameof(options));
        return entry.Create(options ?? entry.Defaults
            ?? throw new OptionsException($"pass '{id}' has no default options; give a {entry.OptionsType.Name} (for example its sparsity)"));
    }

    private static Entry Find(string id) => Entries.TryGetValue(id, out var e)
        ? e
        : throw new OptionsException($"unknown pass '{Text.Message.Name(id)}'; known passes: {string.Join(", ", Entries.Keys.Order())}");
}
