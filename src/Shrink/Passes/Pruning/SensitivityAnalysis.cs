using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Techniques;

namespace Shrink.Passes.Pruning;

/// <summary>One layer's accuracy (or, on data without labels, fidelity to the dense model) when it alone is pruned at each sparsity.</summary>
public sealed record LayerSensitivity(string Layer, string OpType, long Weights, IReadOnlyList<SensitivityPoint> Points);

/// <summary>Accuracy (or the report's <see cref="SensitivityReport.Metric"/>) at one sparsity.</summary>
public sealed record SensitivityPoint(double Sparsity, double Accuracy);

/// <summary>The result: the dense accuracy and every layer's curve; <see cref="Method"/> is the method's name ("magnitude").</summary>
public sealed record SensitivityReport(double BaselineAccuracy, int Samples, string Method, IReadOnlyList<LayerSensitivity> Layers) : IArtifact
{
    public string Kind => "sensitivity";
    public int Version => 1;

    /// <summary>
    /// What the points measure: <c>accuracy</c> on labelled data; on data without labels the fidelity of the first
    /// output to the dense model's, <c>top-1 agreement</c> for a classifier output, else <c>cosine similarity</c>
    /// (the baseline is then 1).
    /// </summary>
    public string Metric { get; init; } = SensitivityAnalysis.AccuracyMetric;

    /// <summary>The name of the data set measured on.</summary>
    public string? Data { get; init; }

    /// <summary>
    /// Per-layer sparsities for pruning (<see cref="UnstructuredPruneOptions.LayerSparsity"/>; <c>shrink prune --layers</c>):
    /// for each layer the highest measured sparsity whose accuracy stays within <paramref name="maxDrop"/> (a fraction,
    /// 0.01 = 1 point) of the baseline; layers that tolerate none are left out.
    /// </summary>
    public IReadOnlyDictionary<string, double> Suggest(double maxDrop) => Layers
        .Select(l => (l.Layer, Best: l.Points.Where(p => BaselineAccuracy - p.Accuracy <= maxDrop).Select(p => p.Sparsity).DefaultIfEmpty(0).Max()))
        .Where(p => p.Best > 0)
        .ToDictionary(p => p.Layer, p => p.Best);
}

/// <summary>Options of sensitivity analysis; the defaults are the CLI's.</summary>
public sealed record SensitivityOptions
{
    /// <summary>The sparsities each layer is pruned at, alone.</summary>
    public IReadOnlyList<double> Sparsities { get; init; } = SensitivityAnalysis.DefaultSparsities;

    /// <summary><see cref="PruneMethod.Magnitude"/> or <see cref="PruneMethod.Random"/>.</summary>
    public PruneMethod Method { get; init; } = PruneMethod.Magnitude;

    /// <summary>Evaluate on the first this many test images only; null: all.</summary>
    public int? Limit { get; init; }

    /// <summary>Accuracy drop (points) a layer may lose in the suggested per-layer sparsities.</summary>
    public double MaxDrop { get; init; } = 1.0;

    public SensitivityOptions Validate()
    {
        if (Sparsities.Count == 0) throw OptionsException.For(nameof(Sparsities), "needs at least one sparsity, e.g. 0.5,0.9");
        foreach (var s in Sparsities)
            if (double.IsNaN(s) || s < 0 || s >= 1) throw OptionsException.For(nameof(Sparsities), $"has {s}; a sparsity must be in [0, 1), e.g. 0.9 for 90 % zeros");
        if (Method is not (PruneMethod.Magnitude or PruneMethod.Random))
            throw OptionsException.For(nameof(Method), $"{Method.Name()} is not available: sensitivity analysis prunes by magnitude or random");
        if (Limit is < 1) throw OptionsException.For(nameof(Limit), $"{Limit} is out of range; use a positive number of samples");
        if (MaxDrop is < 0 or > 100 or double.NaN) throw OptionsException.For(nameof(MaxDrop), $"must be in [0, 100] points, got {MaxDrop}");
        return this;
    }
}

/// <summary>
/// Sensitivity analysis: prunes each prunable layer alone at each sparsity (unstructured, by the
/// given method) and measures accuracy in ONNX Runtime, to show which layers tolerate pruning and to
/// choose per-layer sparsities (<see cref="SensitivityReport.Suggest"/>). On test data without labels it measures
/// the first output's fidelity to the dense model instead (<see cref="SensitivityReport.Metric"/>). The model is not changed.
/// </summary>
public static class SensitivityAnalysis
{
    public static readonly double[] DefaultSparsities = { 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9 };

    /// <summary>The <see cref="SensitivityReport.Metric"/> of labelled data.</summary>
    public const string AccuracyMetric = "accuracy";

    /// <summary>Runs the analysis on <paramref name="test"/> (cut to the options' limit); <paramref name="progress"/> hears (layer, sparsity, accuracy).</summary>
    public static SensitivityReport Run(Model model, IDataSource test, SensitivityOptions options, RunnerOptions? runner = null,
        Action<string, double, double>? progress = null)
    {
        options.Validate();
        ArgumentNullException.ThrowIfNull(test);
        if (options.Limit is { } limit) test = test.Take(limit);
        var weights = PrunableWeights.Find(model);
        if (PrunableWeights.Problem(weights, null) is { } problem) throw new OptionsException(problem);
        using var dense = OnnxRunner.FromModel(model, runner, "the dense model");
        var (metric, score) = Scorer(dense, model, test, runner);
        var baseline = score(model);
        var layers = new List<LayerSensitivity>();
        foreach (var w in weights)
        {
            var points = new List<SensitivityPoint>();
            foreach (var s in options.Sparsities)
            {
                var pruned = new UnstructuredPrunePass(new UnstructuredPruneOptions { Method = options.Method, LayerSparsity = new Dictionary<string, double> { [w.LayerName] = s } })
                    .Run(model, new PassContext()).Model;
                var value = score(pruned);
                points.Add(new SensitivityPoint(s, value));
                progress?.Invoke(w.LayerName, s, value);
            }
            layers.Add(new LayerSensitivity(w.LayerName, w.Layer.OpType, w.Tensor.ElementCount, points));
        }
        return new SensitivityReport(baseline, test.Count, options.Method.Name(), layers) { Metric = metric, Data = test.Name };
    }

    /// <summary>What a pruned model is scored by: accuracy with labels, else the first output's agreement (classifiers) or cosine with the dense model.</summary>
    private static (string Metric, Func<Model, double> Score) Scorer(OnnxRunner dense, Model model, IDataSource test, RunnerOptions? runner)
    {
        if (test.ClassCount is not null)
            return (AccuracyMetric, m =>
            {
                using var r = OnnxRunner.FromModel(m, runner);
                return r.Evaluate(test, 256).Accuracy;
            });
        Evaluation.OutputFidelity First(Model m)
        {
            using var r = OnnxRunner.FromModel(m, runner);
            return Evaluation.Fidelity.Measure(dense, r, test, 256)[0];
        }
        var classifier = First(model).Top1Agreement is not null;
        return (classifier ? "top-1 agreement" : "cosine similarity", m => First(m) is var f && classifier ? f.Top1Agreement!.Value : f.Cosine);
    }
}

/// <summary>
/// <c>sensitivity</c> as a technique: the model passes through unchanged; the artifact is the
/// <see cref="SensitivityReport"/>, and a note gives the per-layer sparsities within the options' accuracy drop.
/// </summary>
public sealed class SensitivityTechnique : Technique<SensitivityOptions>
{
    public override string Id => "sensitivity";
    public override string Summary => "prune each layer alone at increasing sparsity and measure accuracy in ONNX Runtime";

    public override IReadOnlyList<string> Check(Model model, SensitivityOptions options, TechniqueInputs inputs)
    {
        options.Validate();
        var reasons = new List<string>();
        if (inputs.Data is null) reasons.Add("sensitivity analysis measures accuracy (fidelity to the dense model without labels): give it data");
        if (PrunableWeights.Problem(PrunableWeights.Find(model), null) is { } problem) reasons.Add(problem);
        return reasons;
    }

    public override TechniqueResult Run(Model model, SensitivityOptions options, TechniqueInputs inputs, TechniqueSession session)
    {
        var test = inputs.RequireData(Id).Test;
        var report = SensitivityAnalysis.Run(model, test, options, inputs.Runner, (layer, s, a) => session.Note($"{layer} at {s:P0}: {a:P2}"));
        var suggested = report.Suggest(options.MaxDrop / 100);
        var note = $"within {options.MaxDrop:G} point(s): {(suggested.Count == 0 ? "no layer" : string.Join(", ", suggested.Select(kv => $"{kv.Key} {kv.Value:P0}")))}";
        return new TechniqueResult(model.Clone(), new IArtifact[] { report }, new[] { note });
    }
}
