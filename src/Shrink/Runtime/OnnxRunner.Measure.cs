using System.Diagnostics;
using Shrink.Data;
using Shrink.Text;

namespace Shrink.Runtime;

/// <summary>Accuracy on a labelled image data set.</summary>
public sealed record EvalResult(int Samples, int Correct, double Seconds)
{
    public double Accuracy => Samples == 0 ? 0 : (double)Correct / Samples;
}

/// <summary>Latency of one batch size: percentiles over timed runs after warm-up.</summary>
public sealed record LatencyResult(int Batch, int Runs, double MeanMs, double P50Ms, double P90Ms, double P99Ms)
{
    /// <summary>Samples per second at the median latency.</summary>
    public double Throughput => P50Ms <= 0 ? 0 : Batch * 1000.0 / P50Ms;
}

/// <summary>Evaluation and benchmarking.</summary>
public sealed partial class OnnxRunner
{
    /// <summary>
    /// Top-1 accuracy on <paramref name="data"/>. Images go in as [B, C, H, W], or flattened when the
    /// model's input is 2-D; a model with a fixed batch size is fed that size.
    /// </summary>
    public EvalResult Evaluate(Dataset data, int batchSize = 256)
    {
        var spec = Inputs[0];
        if (Inputs.Count != 1 || spec.ElementType != typeof(float))
            throw new DataException($"'{Source}' takes {Inputs.Count} input(s) ({string.Join("; ", Inputs)}); evaluation needs one float32 image input");
        var sample = SampleShapeFor(spec, data);
        if (spec.Dims[0] > 0) batchSize = (int)spec.Dims[0];
        CheckSamples(data, batchSize, spec.Dims[0] > 0);
        var watch = Stopwatch.StartNew();
        var correct = 0;
        var done = 0;
        for (var start = 0; start < data.Count; start += batchSize)
        {
            var n = Math.Min(batchSize, data.Count - start);
            if (spec.Dims[0] > 0 && n != spec.Dims[0]) break;  // fixed batch: drop the last partial batch
            var (x, y) = data.Batch(start, n);
            var (logits, shape) = RunFloat(x, new long[] { n }.Concat(sample).ToArray());
            correct += CountCorrect(logits, shape, y);
            done += n;
        }
        return new EvalResult(done, correct, watch.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Runs the model on the data set's images in batches and yields every output of each batch
    /// (intermediate values made graph outputs included: activation statistics, calibration).
    /// </summary>
    public IEnumerable<(IReadOnlyList<HostTensor> Outputs, int Count)> RunBatches(Dataset data, int batchSize = 256)
    {
        var spec = Inputs[0];
        if (Inputs.Count != 1 || spec.ElementType != typeof(float))
            throw new DataException($"'{Source}' takes {Inputs.Count} input(s) ({string.Join("; ", Inputs)}); it needs one float32 image input");
        var sample = SampleShapeFor(spec, data);
        if (spec.Dims[0] > 0) batchSize = (int)spec.Dims[0];
        for (var start = 0; start < data.Count; start += batchSize)
        {
            var n = Math.Min(batchSize, data.Count - start);
            if (spec.Dims[0] > 0 && n != spec.Dims[0]) break;
            var (x, _) = data.Batch(start, n);
            yield return (Run(new[] { new HostTensor(spec.Name, x, new long[] { n }.Concat(sample).ToArray()) }), n);
        }
    }

    /// <summary>An evaluation needs at least one sample, and a whole batch for a model with a fixed batch size.</summary>
    private void CheckSamples(Dataset data, int batchSize, bool fixedBatch)
    {
        if (batchSize < 1)
            throw new OptionsException($"batch size {batchSize} is out of range; use 1 or more");
        if (data.Count == 0)
            throw new DataException($"the test set has no samples ({data.Source}); evaluate on a data set that holds at least one image");
        if (fixedBatch && data.Count < batchSize)
            throw new DataException($"'{Source}' has a fixed batch size of {batchSize} but the test set holds {data.Count} samples ({data.Source}); evaluate on at least {batchSize}");
    }

    private long[] SampleShapeFor(TensorSpec spec, Dataset data)
    {
        var sample = data.SampleShape.Select(d => (long)d).ToArray();
        var expected = spec.Dims.Skip(1).ToArray();
        if (expected.Length == 1 && (expected[0] < 0 || expected[0] == data.SampleSize)) return new long[] { data.SampleSize };
        if (expected.Length == sample.Length && expected.Zip(sample).All(p => p.First < 0 || p.First == p.Second)) return sample;
        throw new DataException($"'{Source}' takes {spec} but the data set's images are [{string.Join(",", sample)}]; evaluate a model made for this data");
    }

    private int CountCorrect(float[] logits, long[] shape, int[] labels)
    {
        if (shape.Length != 2 || shape[0] != labels.Length)
            throw new DataException($"'{Source}' output has shape [{string.Join(",", shape)}]; accuracy needs [batch, classes]");
        var classes = (int)shape[1];
        var correct = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            var row = logits.AsSpan(i * classes, classes);
            var best = 0;
            for (var k = 1; k < classes; k++) if (row[k] > row[best]) best = k;
            if (best == labels[i]) correct++;
        }
        return correct;
    }

    /// <summary>Latency at a batch size: <paramref name="warmup"/> untimed runs, then <paramref name="runs"/> timed ones.</summary>
    public LatencyResult Benchmark(int batch, int warmup = 10, int runs = 50)
    {
        if (runs < 1) throw new OptionsException($"runs {runs} is out of range; use 1 or more");
        using var probe = Probe(batch);
        for (var i = 0; i < warmup; i++) probe.Once();
        var times = new double[runs];
        for (var i = 0; i < runs; i++) times[i] = probe.Once();
        Array.Sort(times);
        return new LatencyResult(batch, runs, times.Average(), Percentile(times, 50), Percentile(times, 90), Percentile(times, 99));
    }

    /// <summary>Random inputs of <paramref name="batch"/> samples, bound once, for timing one run at a time (<see cref="LatencyProbe.Once"/>).</summary>
    public LatencyProbe Probe(int batch)
    {
        if (batch < 1) throw new OptionsException($"batch size {batch} is out of range; use 1 or more");
        if (Inputs.Count > 0 && Inputs[0].Dims.Length > 0 && Inputs[0].Dims[0] > 0 && Inputs[0].Dims[0] != batch)
            throw new OptionsException(OptionText.Of($"'{Source}' has a fixed batch size of {Inputs[0].Dims[0]}; benchmark it with {OptionName.Of(nameof(Evaluation.BenchSettings.Batches))} {Inputs[0].Dims[0]}"));
        var inputs = RandomInputs(batch);
        CheckInputs(inputs);
        return new LatencyProbe(this, inputs);
    }

    /// <summary>One model's inputs, ready to run again and again; <see cref="Once"/> returns the milliseconds of one run.</summary>
    public sealed class LatencyProbe : IDisposable
    {
        private readonly OnnxRunner _runner;
        private readonly Microsoft.ML.OnnxRuntime.OrtValue[] _values;
        private readonly string[] _names, _outputs;
        private readonly Microsoft.ML.OnnxRuntime.RunOptions _options = new();

        internal LatencyProbe(OnnxRunner runner, IReadOnlyList<HostTensor> inputs)
        {
            _runner = runner;
            _values = inputs.Select(OrtValues.Create).ToArray();
            _names = inputs.Select(i => i.Name).ToArray();
            _outputs = runner.Outputs.Select(o => o.Name).ToArray();
        }

        /// <summary>Runs the model once and returns the wall time in milliseconds.</summary>
        public double Once()
        {
            var t = Stopwatch.GetTimestamp();
            Wrap(_runner.Source, () => _runner._session.Run(_options, _names, _values, _outputs)).Dispose();
            return Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        }

        public void Dispose()
        {
            foreach (var v in _values) v.Dispose();
            _options.Dispose();
        }
    }

    /// <summary>Linear-interpolated percentile of sorted values.</summary>
    internal static double Percentile(double[] sorted, double p)
    {
        var rank = p / 100 * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
