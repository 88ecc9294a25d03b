using Shrink.Passes.Cleanup;
using Shrink.Passes.Quantization;

namespace Shrink.Passes;

/// <summary>Passes by id: the one place the CLI and recipes resolve a pass name (never by reflection).</summary>
public static class PassRegistry
{
    private static readonly Dictionary<string, Func<IPass>> Factories = new()
    {
        ["remove-unused"] = () => new RemoveUnusedPass(),
        ["fold-constants"] = () => new FoldConstantsPass(),
        ["fold-batchnorm"] = () => new FoldBatchNormPass(),
        ["quantize-dynamic"] = () => new QuantizeDynamicPass(new QuantizationOptions { PerChannel = true }),
    };

    public static IReadOnlyCollection<string> Ids => Factories.Keys;

    /// <summary>A new instance of the pass called <paramref name="id"/>; an unknown id is an <see cref="OptionsException"/> listing the known ones.</summary>
    public static IPass Create(string id) => Factories.TryGetValue(id, out var f)
        ? f()
        : throw new OptionsException($"unknown pass '{id}'; known passes: {string.Join(", ", Factories.Keys.Order())}");
}
