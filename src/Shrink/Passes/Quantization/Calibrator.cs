using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Runtime;

namespace Shrink.Passes.Quantization;

/// <summary>
/// Samples to calibrate on: images of a data set, or an array from a <c>.npy</c> file whose first axis
/// is the sample axis (for models of any input shape).
/// </summary>
public sealed class CalibrationSet
{
    private readonly Dataset? _dataset;
    private readonly NpyArray? _array;

    private CalibrationSet(Dataset? dataset, NpyArray? array, int count)
    {
        _dataset = dataset;
        _array = array;
        Count = count;
    }

    public int Count { get; }

    /// <summary>The first <paramref name="samples"/> images of a data set.</summary>
    public static CalibrationSet FromDataset(Dataset data, int samples)
    {
        if (samples < 1) throw new OptionsException($"--calib-samples must be at least 1, got {samples}");
        return new CalibrationSet(data.Take(Math.Min(samples, data.Count)), null, Math.Min(samples, data.Count));
    }

    /// <summary>The first <paramref name="samples"/> entries along axis 0 of a float array.</summary>
    public static CalibrationSet FromNpy(NpyArray array, int samples)
    {
        if (samples < 1) throw new OptionsException($"--calib-samples must be at least 1, got {samples}");
        if (array.Shape.Length < 1 || array.Shape[0] == 0)
            throw new DataException($"the calibration array holds no samples (shape [{string.Join(",", array.Shape)}]); give an array of shape [N, …] with N ≥ 1");
        return new CalibrationSet(null, array, (int)Math.Min(samples, array.Shape[0]));
    }

    /// <summary>Throws a <see cref="DataException"/> when the samples do not fit the model's (single) input.</summary>
    public void CheckFits(Model model)
    {
        var inputs = model.Graph.Inputs.Where(i => !i.IsInitializer).ToList();
        var shape = inputs.FirstOrDefault()?.Shape;
        var sample = _array is { } a ? a.Shape.Skip(1).ToArray() : _dataset!.SampleShape.Select(d => (long)d).ToArray();
        var flat = _dataset is not null && shape is { Rank: 2 } && shape[1].Value is null or 784 && sample.Aggregate(1L, (x, y) => x * y) == (shape[1].Value ?? 784);
        if (inputs.Count == 1 && shape is not null && (flat || shape.Rank == sample.Length + 1 && shape.Dims.Skip(1).Zip(sample).All(p => p.First.Value is null || p.First.Value == p.Second)))
            return;
        var what = _array is not null ? $"the calibration array has shape [{string.Join(",", _array.Shape)}]" : $"the calibration images are [{string.Join(",", sample)}]";
        throw new DataException($"{what} but the model takes {string.Join("; ", inputs.Select(i => i.ToString()))}; give samples of the model's input shape, stacked on axis 0 (--calib-data X.npy)");
    }

    /// <summary>Runs the model on the samples in batches and yields every output of each batch.</summary>
    internal IEnumerable<IReadOnlyList<HostTensor>> Run(OnnxRunner runner, int batch = 64)
    {
        if (_dataset is not null)
        {
            foreach (var (outputs, _) in runner.RunBatches(_dataset, batch)) yield return outputs;
            yield break;
        }
        var array = _array!;
        var spec = runner.Inputs[0];
        var sample = array.Shape.Skip(1).ToArray();
        if (runner.Inputs.Count != 1 || spec.Dims.Length != array.Shape.Length || spec.Dims.Skip(1).Zip(sample).Any(p => p.First >= 0 && p.First != p.Second))
            throw new DataException($"the calibration array has shape [{string.Join(",", array.Shape)}] but the model takes {string.Join("; ", runner.Inputs)}; give samples of the model's input shape, stacked on axis 0");
        var values = array.ToFloat32();
        var size = sample.Aggregate(1L, (a, d) => a * d);
        if (spec.Dims[0] > 0) batch = (int)spec.Dims[0];
        for (var start = 0; start + (spec.Dims[0] > 0 ? batch : 1) <= Count; start += batch)
        {
            var n = Math.Min(batch, Count - start);
            var x = new float[n * size];
            Array.Copy(values, start * size, x, 0, n * size);
            yield return runner.Run(new[] { new HostTensor(spec.Name, x, new long[] { n }.Concat(sample).ToArray()) });
        }
    }
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
