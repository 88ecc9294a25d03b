using System.Globalization;
using Shrink.Ir;
using Shrink.Passes.Pruning;
using Shrink.Search;

namespace Shrink.Training.Optimization;

/// <summary>
/// The conditional search space of <see cref="Optimizer"/> over the techniques of the registry, built for one model:
/// <list type="bullet">
/// <item><c>structure</c>: none, <c>unstructured</c> (magnitude pruning, one <c>sparsity[layer]</c> per prunable layer on a
/// 0.1 grid up to the bound the sensitivity analysis allows), <c>structured</c> (L1 filter pruning, <c>channel-ratio</c> of
/// every channel group) or <c>factorize</c> (truncated SVD, <c>energy</c>);</item>
/// <item><c>weights</c>: float, <c>static</c> int8 (calibrated on the training split; layers measured slower in int8 stay float), <c>mixed</c> (static, one
/// <c>bits[layer]</c> of int8, int4 (size goals) or float per layer), <c>dynamic</c> int8, or <c>cluster</c> (weight sharing,
/// <c>cluster-bits</c>; size goals only);</item>
/// <item><c>epochs</c>: fine-tuning epochs after each training technique (0 to the options' maximum), each distilling from
/// the teacher (the original model unless one is given).</item>
/// </list>
/// The order is fixed: structure first, then the weights (quantization reads the pruned or factorized model).
/// </summary>
public sealed class CompressionSpace
{
    internal const string Structure = "structure", Weights = "weights", Epochs = "epochs", ChannelRatio = "channel-ratio", Energy = "energy", ClusterBits = "cluster-bits";

    private CompressionSpace(SearchSpace space, IReadOnlyList<string> layers, IReadOnlyDictionary<string, double> bounds) =>
        (Space, Layers, SparsityBounds) = (space, layers, bounds);

    /// <summary>The space the engine searches.</summary>
    public SearchSpace Space { get; }

    /// <summary>The prunable layers (Conv, Gemm, MatMul with a weight initializer), in graph order.</summary>
    public IReadOnlyList<string> Layers { get; }

    /// <summary>The highest unstructured sparsity searched per layer (from the sensitivity analysis).</summary>
    public IReadOnlyDictionary<string, double> SparsityBounds { get; }

    /// <summary>The space for <paramref name="model"/> under <paramref name="options"/>, each layer's sparsity bounded from <paramref name="sensitivity"/>.</summary>
    public static CompressionSpace For(Model model, OptimizeOptions options, SensitivityReport sensitivity, IReadOnlySet<string>? floatLayers = null)
    {
        var layers = LayersOf(model);
        var bounds = Bounds(layers, options, sensitivity);
        var latency = options.Goal == OptimizeGoal.Latency;
        var parameters = new List<Parameter>
        {
            Parameter.Choice(Structure, "none", "unstructured", "structured", "factorize"),
            Parameter.Choice(ChannelRatio, 0.125, 0.25, 0.375, 0.5).OnlyWhen(Structure, "structured"),
            Parameter.Choice(Energy, 0.8, 0.9, 0.95).OnlyWhen(Structure, "factorize"),
        };
        parameters.AddRange(layers.Select(l => Parameter.Choice($"sparsity[{l}]", Grid(bounds[l])).OnlyWhen(Structure, "unstructured")));
        parameters.Add(latency ? Parameter.Choice(Weights, "float", "static", "mixed", "dynamic") : Parameter.Choice(Weights, "float", "static", "mixed", "dynamic", "cluster"));
        object[] bits = latency ? ["int8", "float"] : ["int8", "int4", "float"];
        parameters.AddRange(layers.Where(l => floatLayers?.Contains(l) != true).Select(l => Parameter.Choice($"bits[{l}]", bits).OnlyWhen(Weights, "mixed")));
        if (!latency) parameters.Add(Parameter.Choice(ClusterBits, 3, 4, 5, 6).OnlyWhen(Weights, "cluster"));
        parameters.Add(Parameter.Int(Epochs, 0, options.MaxEpochs));
        return new CompressionSpace(new SearchSpace(parameters), layers, bounds);
    }

    /// <summary>The named prunable layers of <paramref name="model"/> (Conv, Gemm, MatMul with a weight initializer), in graph order.</summary>
    public static IReadOnlyList<string> LayersOf(Model model) =>
        PrunableWeights.Find(model).Select(w => w.Layer.Name).Where(n => n.Length > 0).Distinct().ToList();

    /// <summary>
    /// Per layer: the sparsity the analysis found within twice the budget (pruned alone, without fine-tuning), plus 0.2 of
    /// headroom that fine-tuning recovers, on a 0.1 grid in [0.1, 0.9].
    /// </summary>
    private static Dictionary<string, double> Bounds(IReadOnlyList<string> layers, OptimizeOptions options, SensitivityReport sensitivity)
    {
        var budget = options.MinFidelity is { } f ? 1 - f : options.MaxAccuracyDrop!.Value / 100;
        var suggested = sensitivity.Suggest(Math.Max(2 * budget, 0.002));
        return layers.ToDictionary(l => l, l => Math.Clamp(Math.Round((suggested.GetValueOrDefault(l) + 0.2) * 10) / 10, 0.1, 0.9));
    }

    private static object[] Grid(double bound) =>
        Enumerable.Range(0, (int)Math.Round(bound * 10) + 1).Select(k => (object)Math.Round(k / 10.0, 1)).ToArray();

    /// <summary>A one-line summary of <paramref name="c"/> for progress lines: "unstructured (mean 0.43) + mixed int8×3 int4×1 float×1, 1 epoch".</summary>
    public static string Summary(Configuration c)
    {
        var parts = new List<string>();
        var structure = c.GetString(Structure);
        if (structure == "unstructured") parts.Add($"unstructured (mean {Mean(c, "sparsity["):F2})");
        else if (structure == "structured") parts.Add($"structured {c.GetDouble(ChannelRatio).ToString("G", CultureInfo.InvariantCulture)}");
        else if (structure == "factorize") parts.Add($"factorize energy {c.GetDouble(Energy).ToString("G", CultureInfo.InvariantCulture)}");
        var weights = c.GetString(Weights);
        if (weights == "mixed")
            parts.Add("mixed " + string.Join(" ", c.Values.Where(v => v.Key.StartsWith("bits[", StringComparison.Ordinal)).GroupBy(v => v.Value.GetString()).Select(g => $"{g.Key}×{g.Count()}")));
        else if (weights == "cluster") parts.Add($"cluster {c.GetInt(ClusterBits)} bits");
        else if (weights != "float") parts.Add($"{weights} int8");
        var epochs = c.GetInt(Epochs);
        return (parts.Count == 0 ? "unchanged" : string.Join(" + ", parts)) + $", {epochs} epoch{(epochs == 1 ? "" : "s")}";
    }

    private static double Mean(Configuration c, string prefix)
    {
        var values = c.Values.Where(v => v.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(v => v.Value.GetDouble()).ToList();
        return values.Count == 0 ? 0 : values.Average();
    }
}
