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
/// with the requested intermediate values made graph outputs: one pass for the minimum and maximum, and for
/// Percentile and Entropy a second pass filling histograms. Percentile: 2048 bins of |x| over [0, max|x|]. Entropy:
/// ONNX Runtime's <c>HistogramCollector</c> with its defaults (<c>num_bins</c> 128, <c>num_quantized_bins</c> 128) as its
/// <c>quantize_static</c> runs it: one histogram of x over [−max|x|, max|x|] of all the samples, whose one window of
/// 128 bins is the whole range, so its ranges are the observed ones (as ONNX Runtime's are). Both keep the range inside
/// the observed one on each side: a tensor that is never negative (after ReLU) keeps 0 as its lower end.
/// </summary>
public static class Calibrator
{
    private const int Bins = 2048;

    /// <summary>ONNX Runtime's EntropyCalibrater defaults: the bins of a new histogram, and the quantized bins of the divergence.</summary>
    private const int EntropyBins = 128, QuantizedBins = 128;

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
        return method == CalibrationMethod.Entropy ? Entropy(runner, samples, result) : Percentile(runner, samples, result, percentile);
    }

    /// <summary>Percentile calibration: the |x| below which <paramref name="percentile"/> % of the values lie, inside the observed range.</summary>
    private static Dictionary<string, (double Min, double Max)> Percentile(OnnxRunner runner, CalibrationSet samples,
        Dictionary<string, (double Min, double Max)> observed, double percentile)
    {
        var limit = observed.ToDictionary(kv => kv.Key, kv => Math.Max(Math.Abs(kv.Value.Min), Math.Abs(kv.Value.Max)));
        var histograms = observed.Keys.ToDictionary(n => n, _ => new long[Bins]);
        foreach (var outputs in samples.Run(runner))
            foreach (var o in outputs.Where(o => histograms.ContainsKey(o.Name)))
                Fill(histograms[o.Name], (float[])o.Data, limit[o.Name]);
        var result = new Dictionary<string, (double Min, double Max)>(observed);
        foreach (var (n, (lo, hi)) in observed.Where(kv => limit[kv.Key] > 0))
        {
            var threshold = PercentileThreshold(histograms[n], percentile) * limit[n] / Bins;
            // Never wider than what was observed: a signed tensor's short side (an image's background) keeps its minimum.
            result[n] = lo >= 0 ? (0, Math.Min(hi, threshold)) : (Math.Max(lo, -threshold), Math.Min(hi, threshold));
        }
        return result;
    }

    /// <summary>
    /// Entropy calibration as ONNX Runtime's <c>EntropyCalibrater</c> does it in one <c>collect_data</c> call (what
    /// <c>quantize_static</c> makes): every sample's values in one histogram of <see cref="EntropyBins"/> bins over
    /// [−max|x|, max|x|] (max over all the samples), and the window of least divergence in it, inside the observed range.
    /// </summary>
    private static Dictionary<string, (double Min, double Max)> Entropy(OnnxRunner runner, CalibrationSet samples, Dictionary<string, (double Min, double Max)> observed)
    {
        var limit = observed.ToDictionary(kv => kv.Key, kv => Math.Max(Math.Abs(kv.Value.Min), Math.Abs(kv.Value.Max)));
        var histograms = observed.Keys.ToDictionary(n => n, _ => new long[EntropyBins]);
        foreach (var outputs in samples.Run(runner))
            foreach (var o in outputs.Where(o => histograms.ContainsKey(o.Name)))
                FillSigned(histograms[o.Name], (float[])o.Data, limit[o.Name]);
        var result = new Dictionary<string, (double Min, double Max)>(observed);
        foreach (var (n, (lo, hi)) in observed.Where(kv => limit[kv.Key] > 0))
        {
            var (low, high) = EntropyWindow(histograms[n], limit[n]);
            result[n] = (Math.Max(lo, low), Math.Min(hi, high));
        }
        return result;
    }

    /// <summary>Adds x of <paramref name="data"/> to a histogram over [−limit, limit] (numpy.histogram's bins: the last holds limit).</summary>
    internal static void FillSigned(long[] h, float[] data, double limit)
    {
        if (limit <= 0) return;
        var perUnit = h.Length / (2 * limit);
        foreach (var x in data)
            h[Math.Clamp((int)Math.Floor((x + limit) * perUnit), 0, h.Length - 1)]++;
    }

    /// <summary>Adds |x| of <paramref name="data"/> to a histogram over [0, limit].</summary>
    private static void Fill(long[] h, float[] data, double limit)
    {
        if (limit <= 0) return;
        var width = limit / Bins;
        foreach (var x in data)
            h[Math.Clamp((int)Math.Floor(Math.Abs(x) / width), 0, Bins - 1)]++;
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
    /// ONNX Runtime's entropy calibration (<c>HistogramCollector.get_entropy_threshold</c>) on a histogram of x over
    /// [−limit, limit]: for each window of 2i + 1 bins around zero (i from 64 to half the bins), the reference
    /// distribution p is the window with the outliers added to its end bins; the candidate q is the window merged into
    /// 128 bins (of ⌊(2i + 1)/128⌋ bins each, the rest into the last) and spread back, in whole counts, over p's
    /// non-empty bins (every bin of the group takes that share); both are smoothed (zeros become 0.0001, taken from the others) and the window of least KL(p‖q)
    /// gives the range. Windows too narrow to hold the quantized bins are not tried.
    /// </summary>
    internal static (double Low, double High) EntropyWindow(long[] h, double limit)
    {
        var zero = h.Length / 2;
        const int half = QuantizedBins / 2;
        var width = 2 * limit / h.Length;
        var (best, bestKl) = (zero, double.PositiveInfinity);
        var prefix = new long[h.Length + 1];
        for (var k = 0; k < h.Length; k++) prefix[k + 1] = prefix[k] + h[k];
        for (var i = half; i <= zero; i++)
        {
            var kl = WindowDivergence(h, prefix, zero - i, Math.Min(zero + i + 1, h.Length));
            if (kl < bestKl) (best, bestKl) = (i, kl);
        }
        var end = Math.Min(zero + best + 1, h.Length);
        return (-limit + (zero - best) * width, -limit + end * width);
    }

    /// <summary>KL(p‖q) of the window [start, end) of <paramref name="h"/> as <see cref="EntropyWindow"/> builds them; +∞ when either is empty.</summary>
    private static double WindowDivergence(long[] h, long[] prefix, int start, int end)
    {
        var size = end - start;
        var p = new double[size];
        for (var k = 0; k < size; k++) p[k] = h[start + k];
        p[0] += prefix[start];
        p[size - 1] += prefix[h.Length] - prefix[end];
        var q = new double[size];
        var merged = size / QuantizedBins;
        for (var j = 0; j < QuantizedBins; j++)
        {
            var (a, b) = (j * merged, j == QuantizedBins - 1 ? size : (j + 1) * merged);
            var sum = prefix[start + b] - prefix[start + a];
            // Spread over the group's ⌊size/128⌋ bins (ONNX Runtime leaves the remainder's empty), divided by p's non-empty ones there, in whole counts.
            var nonEmpty = 0;
            for (var k = a; k < a + merged; k++) if (p[k] != 0) nonEmpty++;
            if (nonEmpty == 0) continue;
            var share = Math.Floor((double)sum / nonEmpty);
            for (var k = a; k < a + merged; k++) q[k] = share;
        }
        return Smooth(p) && Smooth(q) ? KlDivergence(p, q) : double.PositiveInfinity;
    }

    /// <summary>ONNX Runtime's <c>smooth_distribution</c>: every zero becomes ε = 0.0001, taken evenly from the non-zero bins; false when all are zero.</summary>
    private static bool Smooth(double[] p)
    {
        const double eps = 0.0001;
        var zeros = p.Count(x => x == 0);
        if (zeros == p.Length) return false;
        var eps1 = eps * zeros / (p.Length - zeros);
        for (var k = 0; k < p.Length; k++) p[k] = p[k] == 0 ? eps : p[k] - eps1;
        return p.All(x => x > 0);
    }

    /// <summary>KL(p‖q) of two positive histograms, each normalised (as scipy.stats.entropy does).</summary>
    private static double KlDivergence(double[] p, double[] q)
    {
        var (ps, qs) = (p.Sum(), q.Sum());
        double kl = 0;
        for (var k = 0; k < p.Length; k++)
        {
            var (pk, qk) = (p[k] / ps, q[k] / qs);
            kl += pk * Math.Log(pk / qk);
        }
        return kl;
    }
}
