using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Runtime;

namespace Shrink.Passes.Quantization;

/// <summary>
/// Samples to calibrate on: the first N of any data source (a data set's training split, a NumPy array, an image
/// folder), bound to the model's inputs by <see cref="DataBinding"/> — several named inputs, integer inputs (token
/// ids) and any shapes the model takes. Labels are not used. Like ONNX Runtime's <c>CalibrationDataReader</c>.
/// </summary>
public sealed class CalibrationSet
{
    private CalibrationSet(IDataSource source) => Source = source;

    /// <summary>The samples.</summary>
    public IDataSource Source { get; }

    public int Count => Source.Count;

    /// <summary>The first <paramref name="samples"/> samples of <paramref name="source"/>.</summary>
    public static CalibrationSet From(IDataSource source, int samples)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (samples < 1) throw new OptionsException($"calibration needs at least 1 sample, got {samples}");
        return new CalibrationSet(source.Take(samples));
    }

    /// <summary>
    /// The first <paramref name="samples"/> entries along axis 0 of an array (for a single-input model of any input shape):
    /// integer arrays keep their type (token ids), others become float32. <paramref name="name"/> names it in messages.
    /// </summary>
    public static CalibrationSet FromNpy(NpyArray array, int samples, string name = "the calibration array")
    {
        ArgumentNullException.ThrowIfNull(array);
        if (samples < 1) throw new OptionsException($"calibration needs at least 1 sample, got {samples}");
        if (array.Shape.Length < 1 || array.Shape[0] == 0)
            throw new DataException($"the calibration array holds no samples (shape [{string.Join(",", array.Shape)}]); give an array of shape [N, …] with N ≥ 1");
        var tensor = array.DType is NpyDType.Int64 or NpyDType.Int32 ? HostTensorNpy.FromNpy("input", array) : new HostTensor("input", array.ToFloat32(), array.Shape);
        return From(new InMemorySource(name, new[] { tensor }), samples);
    }

    /// <summary>Every entry along axis 0 of an array.</summary>
    public static CalibrationSet FromNpy(NpyArray array) => FromNpy(array, int.MaxValue);

    /// <summary>The first <paramref name="samples"/> of these samples (all of them when there are fewer).</summary>
    public CalibrationSet First(int samples)
    {
        if (samples < 1) throw new OptionsException($"calibration needs at least 1 sample, got {samples}");
        return samples >= Count ? this : new CalibrationSet(Source.Take(samples));
    }

    /// <summary>Throws a <see cref="DataException"/> when the samples do not fit the model's inputs.</summary>
    public void CheckFits(Model model)
    {
        if (Misfit(model) is { } reason) throw new DataException(reason);
    }

    /// <summary>Null when the samples fit the model's inputs, else the one-line reason (<see cref="DataBinding.Misfit(Model, IDataSource, string?)"/>).</summary>
    public string? Misfit(Model model) => DataBinding.Misfit(model, Source);

    /// <summary>Runs the model on the samples in batches and yields every output of each batch.</summary>
    internal IEnumerable<IReadOnlyList<HostTensor>> Run(OnnxRunner runner, int batch = 64) =>
        runner.RunBatches(Source, batch).Select(b => b.Outputs);
}

/// <summary>
/// Collects activation ranges for static quantization by running the float model in ONNX Runtime
/// with the requested intermediate values made graph outputs: one pass for the minimum and maximum,
/// and for Percentile and Entropy a second pass filling a 2048-bin histogram of |x| over [0, max|x|].
/// </summary>
public static class Calibrator
{
    private const int Bins = 2048;
    private const int QuantizedBins = 128;

    /// <summary>The range [min, max] of each named value over the samples.</summary>
    public static Dictionary<string, (double Min, double Max)> Collect(Model model, IReadOnlyCollection<string> values, CalibrationSet samples,
        CalibrationMethod method, double percentile = 99.99, RunnerOptions? options = null)
    {
        samples.CheckFits(model);
        var copy = model.Clone();
        foreach (var name in values)
        {
            var v = copy.Graph.FindValue(name) ?? throw new ArgumentException($"no value '{name}' to calibrate");
            if (!copy.Graph.Outputs.Contains(v)) copy.Graph.Outputs.Add(v);
        }
        var names = values.ToHashSet();
        var min = values.ToDictionary(n => n, _ => double.PositiveInfinity);
        var max = values.ToDictionary(n => n, _ => double.NegativeInfinity);
        using var runner = OnnxRunner.FromModel(copy, options, "calibration");
        foreach (var outputs in samples.Run(runner))
            foreach (var o in outputs.Where(o => names.Contains(o.Name)))
            {
                var data = (float[])o.Data;
                if (data.Length == 0) continue;
                min[o.Name] = Math.Min(min[o.Name], data.Min());
                max[o.Name] = Math.Max(max[o.Name], data.Max());
            }
        if (values.Count > 0 && values.All(n => double.IsPositiveInfinity(min[n]) && double.IsNegativeInfinity(max[n])))
            throw new DataException($"no calibration batch could run ({samples.Count} samples for a model with a fixed batch size, or none at all); give at least one full batch of samples");
        var result = values.ToDictionary(n => n, n => (Min: double.IsPositiveInfinity(min[n]) ? 0 : min[n], Max: double.IsNegativeInfinity(max[n]) ? 0 : max[n]));
        if (method == CalibrationMethod.MinMax) return result;

        var limit = values.ToDictionary(n => n, n => Math.Max(Math.Abs(result[n].Min), Math.Abs(result[n].Max)));
        var histograms = values.ToDictionary(n => n, _ => new long[Bins]);
        foreach (var outputs in samples.Run(runner))
            foreach (var o in outputs.Where(o => names.Contains(o.Name)))
            {
                var h = histograms[o.Name];
                var width = limit[o.Name] / Bins;
                if (width <= 0) continue;
                foreach (var x in (float[])o.Data) h[Math.Min(Bins - 1, (int)(Math.Abs(x) / width))]++;
            }
        foreach (var n in values)
        {
            var width = limit[n] / Bins;
            if (width <= 0) continue;
            var threshold = method == CalibrationMethod.Percentile ? PercentileThreshold(histograms[n], percentile) * width : EntropyThreshold(histograms[n]) * width;
            var (lo, hi) = result[n];
            // Non-negative tensors (after ReLU) keep 0 as their lower end; others become symmetric.
            result[n] = lo >= 0 ? (0, Math.Min(hi, threshold)) : (-Math.Min(limit[n], threshold), Math.Min(limit[n], threshold));
        }
        return result;
    }

    /// <summary>The upper edge (in bins) below which <paramref name="percentile"/> % of the counts lie.</summary>
    private static double PercentileThreshold(long[] h, double percentile)
    {
        var total = h.Sum();
        var target = total * percentile / 100;
        long running = 0;
        for (var i = 0; i < h.Length; i++)
        {
            running += h[i];
            if (running >= target) return i + 1;
        }
        return h.Length;
    }

    /// <summary>
    /// TensorRT's entropy calibration: for each candidate threshold i (in bins), the reference
    /// distribution is the first i bins with the outliers added to the last; the candidate is that
    /// distribution merged into 128 levels and spread back over its non-empty bins; the threshold with
    /// the smallest KL divergence wins.
    /// </summary>
    private static double EntropyThreshold(long[] h)
    {
        var best = (double)h.Length;
        var bestKl = double.PositiveInfinity;
        var p = new double[h.Length];
        var q = new double[h.Length];
        for (var i = QuantizedBins; i <= h.Length; i++)
        {
            long outliers = 0;
            for (var k = i; k < h.Length; k++) outliers += h[k];
            for (var k = 0; k < i; k++) p[k] = h[k];
            p[i - 1] += outliers;
            var step = (double)i / QuantizedBins;
            for (var j = 0; j < QuantizedBins; j++)
            {
                var start = (int)Math.Floor(j * step);
                var end = j == QuantizedBins - 1 ? i : (int)Math.Floor((j + 1) * step);
                double sum = 0;
                var nonEmpty = 0;
                for (var k = start; k < end; k++)
                {
                    sum += h[k];
                    if (h[k] != 0) nonEmpty++;
                }
                for (var k = start; k < end; k++) q[k] = h[k] != 0 ? sum / nonEmpty : 0;
            }
            var kl = KlDivergence(p, q, i);
            if (kl < bestKl)
            {
                bestKl = kl;
                best = i;
            }
        }
        return best + 0.5;
    }

    private static double KlDivergence(double[] p, double[] q, int n)
    {
        double ps = 0, qs = 0;
        for (var k = 0; k < n; k++)
        {
            ps += p[k];
            qs += q[k];
        }
        if (ps == 0 || qs == 0) return double.PositiveInfinity;
        double kl = 0;
        for (var k = 0; k < n; k++)
        {
            if (p[k] == 0) continue;
            var pk = p[k] / ps;
            var qk = q[k] / qs;
            kl += qk == 0 ? pk * Math.Log(pk / 1e-12) : pk * Math.Log(pk / qk);
        }
        return kl;
    }
}
