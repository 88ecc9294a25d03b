using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Runtime;

namespace Shrink.Passes.Pruning;

/// <summary>One layer's accuracy when it alone is pruned at each sparsity.</summary>
public sealed record LayerSensitivity(string Layer, string OpType, long Weights, IReadOnlyList<SensitivityPoint> Points);

/// <summary>Accuracy at one sparsity.</summary>
public sealed record SensitivityPoint(double Sparsity, double Accuracy);

/// <summary>The result: the dense accuracy and every layer's curve.</summary>
public sealed record SensitivityReport(double BaselineAccuracy, int Samples, string Method, IReadOnlyList<LayerSensitivity> Layers)
{
    /// <summary>
    /// Per-layer sparsities for <c>shrink prune --layers</c>: for each layer the highest measured
    /// sparsity whose accuracy stays within <paramref name="maxDrop"/> (a fraction, 0.01 = 1 point) of
    /// the baseline; layers that tolerate none are left out.
    /// </summary>
    public IReadOnlyDictionary<string, double> Suggest(double maxDrop) => Layers
        .Select(l => (l.Layer, Best: l.Points.Where(p => BaselineAccuracy - p.Accuracy <= maxDrop).Select(p => p.Sparsity).DefaultIfEmpty(0).Max()))
        .Where(p => p.Best > 0)
        .ToDictionary(p => p.Layer, p => p.Best);
}

/// <summary>
/// Sensitivity analysis: prunes each prunable layer alone at each sparsity (unstructured, by the
/// given method) and measures accuracy in ONNX Runtime, to show which layers tolerate pruning and to
/// choose per-layer sparsities.
/// </summary>
public static class SensitivityAnalysis
{
    public static readonly double[] DefaultSparsities = { 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9 };

    public static SensitivityReport Run(Model model, Dataset test, IReadOnlyList<double> sparsities, string method = "magnitude",
        RunnerOptions? runner = null, Action<string, double, double>? progress = null)
    {
        if (sparsities.Count == 0) throw new OptionsException("give at least one sparsity, e.g. --sparsities 0.5,0.9");
        foreach (var s in sparsities) UnstructuredPruneOptions.CheckSparsity(s, "--sparsities");
        if (method is not ("magnitude" or "random")) throw new OptionsException($"sensitivity analysis prunes by magnitude or random, not '{method}'");
        var weights = PrunableWeights.Find(model);
        if (PrunableWeights.Problem(weights, null) is { } problem) throw new OptionsException(problem);
        double Accuracy(Model m)
        {
            using var r = OnnxRunner.FromModel(m, runner);
            return r.Evaluate(test, 256).Accuracy;
        }
        var baseline = Accuracy(model);
        var layers = new List<LayerSensitivity>();
        foreach (var w in weights)
        {
            var points = new List<SensitivityPoint>();
            foreach (var s in sparsities)
            {
                var pruned = new UnstructuredPrunePass(new UnstructuredPruneOptions { Method = method, LayerSparsity = new Dictionary<string, double> { [w.LayerName] = s } })
                    .Run(model, new PassContext()).Model;
                var accuracy = Accuracy(pruned);
                points.Add(new SensitivityPoint(s, accuracy));
                progress?.Invoke(w.LayerName, s, accuracy);
            }
            layers.Add(new LayerSensitivity(w.LayerName, w.Layer.OpType, w.Tensor.ElementCount, points));
        }
        return new SensitivityReport(baseline, test.Count, method, layers);
    }
}
