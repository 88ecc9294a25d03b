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
/// <item><c>merge</c>: off or on (layer merging, <see cref="Passes.Merging.MergeTechnique"/>, with the kinds the original was
/// found to have something for, <see cref="MergeProbe"/>); after any structure but unstructured pruning, whose zeros a
/// merged product of layers would fill;</item>
/// <item>half precision as <c>weights</c> choices: <c>fp16</c> and <c>bf16</c> storage for the size goals (half the float
/// bytes, computing in float32), <c>fp16-compute</c> for the latency goals (kept only when measured faster: on most CPUs
/// ONNX Runtime runs few ops in float16, and the Casts around them cost more than they save);</item>
/// <item><c>epochs</c>: fine-tuning epochs after each training technique (0 to the options' maximum), each distilling from
/// the teacher (the original model unless one is given).</item>
/// </list>
/// The order is fixed: structure first, then merging, then the weights (quantization reads the pruned or factorized model).
/// Configurations that build the same recipe are one trial, and one that changes nothing is never proposed
/// (<see cref="CompressionPlan.Key"/>, the strategies' <see cref="ConfigurationKey"/>).
/// </summary>
public sealed class CompressionSpace
{
    internal const string Structure = "structure", Weights = "weights", Epochs = "epochs", Merge = "merge", ChannelRatio = "channel-ratio", ChannelRatios = "channel-ratios",
        Energy = "energy", ClusterBits = "cluster-bits", ClusterConvBits = "cluster-conv-bits", ClusterLearningRate = "cluster-lr";

    /// <summary>The sparsities the sensitivity analysis measures each layer at: the 0.1 grid and the levels Deep Compression prunes large layers to.</summary>
    public static readonly double[] SensitivitySparsities = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97];

    /// <summary>The half-precision choices of <c>weights</c>: storage in float16 or bfloat16, or computing in float16.</summary>
    internal const string Fp16 = "fp16", Bf16 = "bf16", Fp16Compute = "fp16-compute";

    private CompressionSpace(SearchSpace space, IReadOnlyList<string> layers, IReadOnlyDictionary<string, double> bounds,
        IReadOnlyDictionary<string, double> channelBounds, IReadOnlyList<Configuration> starting, Passes.Merging.MergeOptions? merging) =>
        (Space, Layers, SparsityBounds, ChannelBounds, Starting, Merging) = (space, layers, bounds, channelBounds, starting, merging);

    /// <summary>The space the engine searches.</summary>
    public SearchSpace Space { get; }

    /// <summary>The prunable layers (Conv, Gemm, MatMul with a weight initializer), in graph order.</summary>
    public IReadOnlyList<string> Layers { get; }

    /// <summary>The highest unstructured sparsity searched per layer (from the sensitivity analysis).</summary>
    public IReadOnlyDictionary<string, double> SparsityBounds { get; }

    /// <summary>The highest fraction of channels searched per channel group (<c>channel-ratio[group]</c>, from <see cref="ChannelSensitivity"/>); empty: one ratio for all.</summary>
    public IReadOnlyDictionary<string, double> ChannelBounds { get; }

    /// <summary>The merging <c>merge</c> = on runs (the kinds the original has something for), or null when <c>merge</c> is not searched.</summary>
    public Passes.Merging.MergeOptions? Merging { get; }

    /// <summary>
    /// The first trials of a new run, in order: static int8 of every layer, no pruning, no fine-tuning (what a user would try
    /// first; when quantization is searched), then for the size goals Deep Compression's pipeline (when unstructured pruning
    /// and clustering are searched): every layer pruned to its bound while fine-tuning for the most epochs, 4-bit sharing
    /// (5 bits for Conv layers), as the README's hand-made lenet5 pipeline.
    /// </summary>
    public IReadOnlyList<Configuration> Starting { get; }

    /// <summary>
    /// The space for <paramref name="model"/> under <paramref name="options"/> (only the techniques of
    /// <see cref="OptimizeOptions.Techniques"/>), each layer's sparsity bounded from <paramref name="sensitivity"/> and, given
    /// <paramref name="channelBounds"/>, each channel group's ratio by its bound (else one ratio for every group); with
    /// <paramref name="merging"/> (what <see cref="MergeProbe"/> found worth merging) a <c>merge</c> switch.
    /// </summary>
    public static CompressionSpace For(Model model, OptimizeOptions options, SensitivityReport sensitivity, IReadOnlySet<string>? floatLayers = null,
        IReadOnlyDictionary<string, double>? channelBounds = null, Passes.Merging.MergeOptions? merging = null)
    {
        merging = options.Uses(CompressionTechnique.Merge) ? merging : null;
        var layers = LayersOf(model);
        var bounds = Bounds(layers, options, sensitivity);
        var groups = options.Uses(CompressionTechnique.Structured) ? channelBounds ?? new Dictionary<string, double>() : new Dictionary<string, double>();
        var parameters = new List<Parameter> { Parameter.Choice(Structure, StructureChoices(options)) };
        if (options.Uses(CompressionTechnique.Structured)) parameters.AddRange(StructuredParameters(groups));
        if (options.Uses(CompressionTechnique.Factorize)) parameters.Add(Parameter.Choice(Energy, 0.8, 0.9, 0.95).OnlyWhen(Structure, "factorize"));
        if (options.Uses(CompressionTechnique.Unstructured))
            parameters.AddRange(layers.Select(l => Parameter.Choice($"sparsity[{l}]", Grid(bounds[l])).OnlyWhen(Structure, "unstructured")));
        var dense = ((CategoricalParameter)parameters[0]).Choices.Select(c => c.GetString()!).Where(c => c != "unstructured").Select(c => (object)c).ToArray();
        if (merging is not null) parameters.Add(Parameter.Choice(Merge, "off", "on").OnlyWhen(Structure, dense));
        parameters.AddRange(WeightParameters(model, layers, options, floatLayers));
        // Epochs fine-tune the training techniques; with quantization alone they would change nothing.
        var trains = new[] { CompressionTechnique.Unstructured, CompressionTechnique.Structured, CompressionTechnique.Factorize, CompressionTechnique.Cluster }.Any(options.Uses);
        parameters.Add(Parameter.Int(Epochs, 0, trains ? options.MaxEpochs : 0));
        var space = new SearchSpace(parameters);
        return new CompressionSpace(space, layers, bounds, groups, Starts(space, layers, bounds, options).ToList(), merging);
    }

    private static IEnumerable<Configuration> Starts(SearchSpace space, IReadOnlyList<string> layers, IReadOnlyDictionary<string, double> bounds, OptimizeOptions options)
    {
        var off = space.Parameters.Any(p => p.Name == Merge) ? new (string, object?)[] { (Merge, "off") } : [];
        if (options.Uses(CompressionTechnique.Quantize))
            yield return space.Check(Configuration.Of([(Structure, "none"), .. off, (Weights, "static"), (Epochs, 0)]));
        if (!options.Uses(CompressionTechnique.Unstructured) || !((CategoricalParameter)space[Weights]).Choices.Any(c => c.GetString() == "cluster")) yield break;
        var values = new List<(string, object?)> { (Structure, "unstructured") };
        values.AddRange(layers.Select(l => ($"sparsity[{l}]", (object?)Grid(bounds[l])[^1])));
        values.AddRange([(Weights, "cluster"), (ClusterBits, 4), (ClusterLearningRate, 0.001), (Epochs, options.MaxEpochs)]);
        if (space.Parameters.Any(p => p.Name == ClusterConvBits)) values.Add((ClusterConvBits, 5));
        yield return space.Check(Configuration.Of(values.ToArray()));
    }

    private static object[] StructureChoices(OptimizeOptions o) =>
        new (CompressionTechnique Technique, string Choice)[]
        {
            (CompressionTechnique.Unstructured, "unstructured"), (CompressionTechnique.Structured, "structured"), (CompressionTechnique.Factorize, "factorize"),
        }.Where(t => o.Uses(t.Technique)).Select(t => (object)t.Choice).Prepend("none").ToArray();

    /// <summary>
    /// <c>channel-ratio</c> (one fraction for every group); with group bounds also <c>channel-ratios</c> = one | per-group and
    /// a <c>channel-ratio[group]</c> per group on a 0.125 grid up to its bound.
    /// </summary>
    private static IEnumerable<Parameter> StructuredParameters(IReadOnlyDictionary<string, double> groups)
    {
        var one = Parameter.Choice(ChannelRatio, 0.125, 0.25, 0.375, 0.5);
        if (groups.Count == 0)
        {
            yield return one.OnlyWhen(Structure, "structured");
            yield break;
        }
        yield return Parameter.Choice(ChannelRatios, "one", "per-group").OnlyWhen(Structure, "structured");
        yield return one.OnlyWhen(ChannelRatios, "one");
        foreach (var (group, bound) in groups)
            yield return Parameter.Choice($"{ChannelRatio}[{group}]", Enumerable.Range(0, (int)Math.Round(bound * 8) + 1).Select(k => (object)(k / 8.0)).ToArray())
                .OnlyWhen(ChannelRatios, "per-group");
    }

    /// <summary><c>weights</c> and what hangs on it: <c>bits[layer]</c> for mixed precision, <c>cluster-bits</c> (and <c>cluster-conv-bits</c> when the model has Conv layers).</summary>
    private static IEnumerable<Parameter> WeightParameters(Model model, IReadOnlyList<string> layers, OptimizeOptions options, IReadOnlySet<string>? floatLayers)
    {
        var latency = options.Goal == OptimizeGoal.Latency;
        var (quantize, cluster) = (options.Uses(CompressionTechnique.Quantize), options.Uses(CompressionTechnique.Cluster) && !latency);
        var choices = new List<object> { "float" };
        if (quantize) choices.AddRange(["static", "mixed", "dynamic"]);
        if (cluster) choices.Add("cluster");
        if (options.Uses(CompressionTechnique.Half)) choices.AddRange(options.Goal switch
        {
            OptimizeGoal.Size => [Fp16, Bf16],
            OptimizeGoal.Latency => [Fp16Compute],
            _ => [Fp16, Bf16, Fp16Compute],
        });
        yield return Parameter.Choice(Weights, choices.ToArray());
        object[] bits = latency ? ["int8", "float"] : ["int8", "int4", "float"];
        if (quantize)
            foreach (var l in layers.Where(l => floatLayers?.Contains(l) != true))
                yield return Parameter.Choice($"bits[{l}]", bits).OnlyWhen(Weights, "mixed");
        if (!cluster) yield break;
        yield return Parameter.Choice(ClusterBits, 3, 4, 5, 6).OnlyWhen(Weights, "cluster");
        // Centroid fine-tuning sums the updates of a cluster's weights: 0.001 (Deep Compression's) holds on pruned layers, while
        // on a dense 400,000-weight layer it diverged (lenet5: accuracy 10 % after 2 epochs); the smaller rates are for those.
        yield return Parameter.Choice(ClusterLearningRate, 0.001, 0.0001, 0.00001).OnlyWhen(Weights, "cluster");
        if (model.Graph.Nodes.Any(n => n.OpType == "Conv" && layers.Contains(n.Name)))
            yield return Parameter.Choice(ClusterConvBits, 4, 5, 6, 8).OnlyWhen(Weights, "cluster");
    }

    /// <summary>The named prunable layers of <paramref name="model"/> (Conv, Gemm, MatMul with a weight initializer), in graph order.</summary>
    public static IReadOnlyList<string> LayersOf(Model model) =>
        PrunableWeights.Find(model).Select(w => w.Layer.Name).Where(n => n.Length > 0).Distinct().ToList();

    /// <summary>
    /// Per layer: the sparsity the analysis found within twice the budget (pruned alone, without fine-tuning), plus 0.2 of
    /// headroom that fine-tuning recovers, rounded to 0.1, in [0.1, 0.97]; a bound above 0.9 admits the levels 0.95 and
    /// 0.97 (those Deep Compression prunes large fully connected layers to).
    /// </summary>
    private static Dictionary<string, double> Bounds(IReadOnlyList<string> layers, OptimizeOptions options, SensitivityReport sensitivity)
    {
        var suggested = sensitivity.Suggest(Math.Max(2 * Budget(options), 0.002));
        return layers.ToDictionary(l => l, l => Math.Clamp(Math.Round((suggested.GetValueOrDefault(l) + 0.2) * 10) / 10, 0.1, 0.97));
    }

    /// <summary>The accuracy budget as a fraction (0.005 for half a point), or 1 − the minimum fidelity.</summary>
    internal static double Budget(OptimizeOptions options) => options.MinFidelity is { } f ? 1 - f : options.MaxAccuracyDrop!.Value / 100;

    /// <summary>0, 0.1, … up to the bound (at most 0.9), then 0.95 and 0.97 where the bound reaches them.</summary>
    internal static object[] Grid(double bound) =>
        Enumerable.Range(0, (int)Math.Round(Math.Min(bound, 0.9) * 10) + 1).Select(k => Math.Round(k / 10.0, 1))
            .Concat(new[] { 0.95, 0.97 }.Where(s => bound >= s - 1e-9)).Select(s => (object)s).ToArray();

    /// <summary>A one-line summary of <paramref name="c"/> for progress lines: "unstructured (mean 0.43) + mixed int8×3 int4×1 float×1, 1 epoch".</summary>
    public static string Summary(Configuration c)
    {
        var parts = new List<string>();
        var structure = c.GetString(Structure);
        if (structure == "unstructured") parts.Add($"unstructured (mean {Mean(c, "sparsity["):F2})");
        else if (structure == "structured" && c.Has(ChannelRatio)) parts.Add($"structured {c.GetDouble(ChannelRatio).ToString("G", CultureInfo.InvariantCulture)}");
        else if (structure == "structured") parts.Add($"structured per group (mean {Mean(c, ChannelRatio + "["):F2})");
        else if (structure == "factorize") parts.Add($"factorize energy {c.GetDouble(Energy).ToString("G", CultureInfo.InvariantCulture)}");
        var weights = c.GetString(Weights);
        if (weights == "mixed")
            parts.Add("mixed " + string.Join(" ", c.Values.Where(v => v.Key.StartsWith("bits[", StringComparison.Ordinal)).GroupBy(v => v.Value.GetString()).Select(g => $"{g.Key}×{g.Count()}")));
        else if (weights == "cluster") parts.Add($"cluster {c.GetInt(ClusterBits)} bits" + (c.Has(ClusterConvBits) ? $" (conv {c.GetInt(ClusterConvBits)})" : ""));
        else if (weights is Fp16 or Bf16) parts.Add($"{weights} storage");
        else if (weights == Fp16Compute) parts.Add("fp16 compute");
        else if (weights != "float") parts.Add($"{weights} int8");
        if (c.Has(Merge) && c.GetString(Merge) == "on") parts.Insert(structure == "none" ? 0 : 1, "merge");
        // Only pruning, factorization and weight sharing fine-tune (CompressionPlan): without them the epochs change nothing.
        var epochs = structure != "none" || weights == "cluster" ? c.GetInt(Epochs) : 0;
        return (parts.Count == 0 ? "unchanged" : string.Join(" + ", parts)) + $", {epochs} epoch{(epochs == 1 ? "" : "s")}";
    }

    private static double Mean(Configuration c, string prefix)
    {
        var values = c.Values.Where(v => v.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(v => v.Value.GetDouble()).ToList();
        return values.Count == 0 ? 0 : values.Average();
    }
}
