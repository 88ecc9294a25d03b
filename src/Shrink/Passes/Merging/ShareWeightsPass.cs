using Shrink.Ir;
using Shrink.Techniques;

namespace Shrink.Passes.Merging;

/// <summary>
/// <c>share-weights</c>: parameter sharing between layers whose weights are near-identical. Float initializers of one
/// element type and shape are compared; a tensor B whose values differ from an earlier tensor A's by at most
/// <see cref="ShareWeightsOptions.Tolerance"/> · max(‖A‖∞, ‖B‖∞) is dropped and its readers read A (one tensor, several
/// users), so the model's parameter count (<see cref="Stats.ModelStats"/>, which counts each initializer once) and file
/// shrink. A layer that reads A instead of B computes with weights at most that far from its own, so its output moves by
/// at most the tolerance times ‖W‖∞·‖x‖₁ per element. Initializers that are graph inputs (overridable) and tensors under
/// <see cref="ShareWeightsOptions.MinElements"/> are left alone. Needs no data, no training; shapes are unchanged.
/// Counters: <c>shared</c> (tensors dropped), <c>parameters-saved</c>. Artifact: <see cref="LayerMerges"/> (one entry per
/// kept tensor, naming those it replaced).
/// </summary>
public sealed class ShareWeightsPass : Pass
{
    private readonly ShareWeightsOptions _options;

    public ShareWeightsPass(ShareWeightsOptions options) => _options = options.Validate();

    public override string Id => "share-weights";

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        var graph = model.Graph;
        var merges = new List<LayerMerge>();
        var candidates = graph.Initializers.Where(v => v.Const is { } t && t.DataType is DataType.Float or DataType.Float16 or DataType.Double
            && t.ElementCount >= _options.MinElements && v.Uses.Count > 0 && !graph.Inputs.Contains(v) && !graph.Outputs.Contains(v));
        foreach (var bucket in candidates.GroupBy(v => (v.Const!.DataType, string.Join(",", v.Const.Dims))).Where(b => b.Count() > 1))
            merges.AddRange(ShareWithin(graph, bucket.ToList()));
        graph.RemoveUnusedInitializers();
        var shared = merges.Sum(m => m.Layers.Count - 1);
        var stats = new Dictionary<string, long> { ["shared"] = shared, ["parameters-saved"] = merges.Sum(m => m.ParametersBefore - m.ParametersAfter) };
        return new PassResult(model, shared > 0, stats) { Artifacts = new IArtifact[] { new LayerMerges { Merges = merges } } };
    }

    /// <summary>Shares the tensors of one bucket: each is compared with the tensors kept so far, and replaced by the first that is close enough.</summary>
    private IEnumerable<LayerMerge> ShareWithin(Graph graph, List<Value> bucket)
    {
        var kept = new List<(Value Value, double[] Values, double Max, List<string> Replaced)>();
        foreach (var v in bucket)
        {
            var values = v.Const!.ToDoubles();
            var max = values.Max(Math.Abs);
            var match = kept.FindIndex(k => Close(k.Values, k.Max, values, max));
            if (match < 0)
            {
                kept.Add((v, values, max, new List<string> { v.Name }));
                continue;
            }
            graph.ReplaceAllUsesWith(v, kept[match].Value);
            kept[match].Replaced.Add(v.Name);
        }
        return kept.Where(k => k.Replaced.Count > 1)
            .Select(k => new LayerMerge(MergeKind.Share, k.Replaced, k.Value.Name, k.Replaced.Count * k.Value.Const!.ElementCount, k.Value.Const!.ElementCount));
    }

    private bool Close(double[] a, double maxA, double[] b, double maxB)
    {
        var bound = _options.Tolerance * Math.Max(maxA, maxB);
        for (var i = 0; i < a.Length; i++)
            if (!(Math.Abs(a[i] - b[i]) <= bound)) return false;
        return true;
    }
}
