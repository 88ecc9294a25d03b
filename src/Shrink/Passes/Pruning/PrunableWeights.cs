using Shrink.Text;
using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Pruning;

/// <summary>
/// A weight tensor pruning may zero: the float initializer (rank 2 or more) of a layer the op registry
/// describes (<see cref="OpRoles.Layer"/>: Conv, ConvTranspose, Gemm, MatMul's constant operand). Biases,
/// normalization parameters and constants are never pruned.
/// </summary>
public sealed record PrunableWeight(Node Layer, int InputIndex, Value Weight)
{
    /// <summary>The layer's name as reports and configuration files use it.</summary>
    public string LayerName => Layer.DisplayName;

    /// <summary>The weight's current values.</summary>
    public Tensor Tensor => Weight.Const!;

    /// <summary>The layer's weight layout, from the op registry.</summary>
    public WeightLayout Layout => OpRoles.Layer(Layer)!;

    /// <summary>
    /// The axis the layer sums over, along which N:M groups run: a weight with its output channels on axis 0
    /// (Conv [O, I, k…], Gemm with transB [O, I]) reduces over everything after axis 0 (rows); one with them
    /// on axis 1 (Gemm's and MatMul's B [I, O], ConvTranspose [I, O, k…]) reduces over axis 0 (columns).
    /// </summary>
    public bool ReducesOverRows => Layout.OutputAxis == 0;
}

/// <summary>Finds the prunable weights of a model.</summary>
public static class PrunableWeights
{
    /// <summary>
    /// Why the weights cannot be pruned as configured (nothing prunable, unknown layers in the per-layer
    /// sparsities), or null. <paramref name="naming"/> begins the message about unknown layers.
    /// </summary>
    public static string? Problem(IReadOnlyList<PrunableWeight> weights, IReadOnlyDictionary<string, double>? config, string naming = "the per-layer sparsities name")
    {
        if (weights.Count == 0) return "the model has nothing prunable (no Conv, ConvTranspose, Gemm or MatMul with a float weight initializer)";
        var missing = config?.Keys.Where(k => weights.All(w => w.LayerName != k)).ToList() ?? new List<string>();
        return missing.Count == 0 ? null
            : $"{naming} {Message.List(missing.Select(m => $"'{Message.Name(m)}'"))}, which {(missing.Count == 1 ? "is" : "are")} not a prunable layer; prunable layers: {Message.List(weights.Select(w => Message.Name(w.LayerName)), 20)}";
    }

    /// <summary>
    /// Why weights cannot be <paramref name="verb"/>ed (clustered, factorized) as asked: none in the model, a
    /// name in <paramref name="named"/> that is no such layer (the message names the options property
    /// <paramref name="layers"/> that lists them), or NaN/infinite weights; null when they can.
    /// </summary>
    public static OptionText? Refusal(Model model, IEnumerable<string>? named, string verb, string layers)
    {
        var weights = Find(model);
        if (weights.Count == 0) return OptionText.Plain($"the model has no Conv, ConvTranspose, Gemm or MatMul with a float weight initializer to {verb}");
        var missing = named?.Where(l => weights.All(w => w.LayerName != l)).ToList() ?? new List<string>();
        if (missing.Count > 0)
            return OptionText.Of($"{OptionName.Of(layers)} names {Message.List(missing.Select(m => $"'{Message.Name(m)}'"))}, not a layer with weights; layers: {Message.List(weights.Select(w => Message.Name(w.LayerName)), 20)}");
        foreach (var w in weights)
            if (!w.Tensor.AllFinite())
                return OptionText.Plain($"'{w.Weight.Name}' of '{w.LayerName}' holds NaN or infinite weights; fix or retrain the model first");
        return null;
    }

    public static IReadOnlyList<PrunableWeight> Find(Model model)
    {
        var result = new List<PrunableWeight>();
        var seen = new HashSet<string>();
        foreach (var node in model.Graph.Nodes)
        {
            if (!node.IsDefaultDomain || OpRoles.Layer(node) is not { } layout) continue;
            var index = layout.Weight;
            if (node.Inputs.ElementAtOrDefault(index) is not { } w || w.Const is not { } t) continue;
            if (t.DataType != DataType.Float || t.Dims.Length < 2 || !seen.Add(w.Name)) continue;
            result.Add(new PrunableWeight(node, index, w));
        }
        return result;
    }
}
