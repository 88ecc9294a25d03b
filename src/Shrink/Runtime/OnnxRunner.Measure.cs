using System.Diagnostics;
using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Text;

namespace Shrink.Runtime;

/// <summary>
/// What an evaluation on labelled data measured: top-1 and top-5 hits (top-k with k the smaller of 5 and the
/// classes) and the summed cross-entropy of the first output's logits, over <see cref="Samples"/> samples.
/// </summary>
public sealed record EvalResult(int Samples, int Correct, double Seconds)
{
    public double Accuracy => Samples == 0 ? 0 : (double)Correct / Samples;

    /// <summary>Samples whose label is among the five highest logits.</summary>
    public int Top5Correct { get; init; }

    /// <summary>Σ −log softmax(z)[label] over the samples.</summary>
    public double LossSum { get; init; }

    public double Top5Accuracy => Samples == 0 ? 0 : (double)Top5Correct / Samples;

    /// <summary>Mean cross-entropy of the logits against the labels.</summary>
    public double Loss => Samples == 0 ? 0 : LossSum / Samples;
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
    /// Top-1 and top-5 accuracy and cross-entropy of the first output on <paramref name="data"/>, which must carry
    /// labels; the samples are bound to the model's inputs by <see cref="DataBinding"/> (by name, or the single one;
    /// flattened for a 2-D input), and a model with a fixed batch size is fed that size.
    /// </summary>
    /// <exception cref="DataException">The data has no labels or does not fit the model, or the output is not [batch, classes].</exception>
    public EvalResult Evaluate(IDataSource data, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.ClassCount is null)
            throw new DataException($"{data.Name} has no labels: accuracy needs labelled data; measure fidelity to the original model instead");
        var watch = Stopwatch.StartNew();
        var score = new ClassScore();
        foreach (var (batch, outputs) in Batches(data, batchSize, check: true))
            score.Add(outputs[0], batch.Labels!, Source);
        return new EvalResult(score.Samples, score.Top1, watch.Elapsed.TotalSeconds) { Top5Correct = score.Top5, LossSum = score.LossSum };
    }

    /// <summary>
    /// Runs the model on the samples of <paramref name="data"/> in batches and yields every output of each batch
    /// (intermediate values made graph outputs included: activation statistics, calibration).
    /// </summary>
    public IEnumerable<(IReadOnlyList<HostTensor> Outputs, int Count)> RunBatches(IDataSource data, int batchSize = 256) =>
        Batches(data, batchSize, check: false).Select(b => (b.Outputs, b.Batch.Count));

    /// <summary>
    /// The batches of <paramref name="data"/> as the model takes them, each with the model's outputs: <paramref name="batchSize"/>
    /// samples at a time in order, or the model's fixed batch size (a last partial batch is then left out).
    /// </summary>
    internal IEnumerable<(DataBatch Batch, IReadOnlyList<HostTensor> Outputs)> Batches(IDataSource data, int batchSize, bool check)
    {
        ArgumentNullException.ThrowIfNull(data);
        var binding = DataBinding.For(InputValues(), data, $"'{Source}'");
        if (binding.FixedBatch is { } fixedBatch) batchSize = fixedBatch;
        if (check) CheckSamples(data, batchSize, binding.FixedBatch is not null);
        else if (batchSize < 1) throw new OptionsException($"batch size {batchSize} is out of range; use 1 or more");
        for (var start = 0; start < data.Count; start += batchSize)
        {
            var n = Math.Min(batchSize, data.Count - start);
            if (binding.FixedBatch is not null && n != batchSize) break;  // fixed batch: drop the last partial batch
            var batch = data.Read(Enumerable.Range(start, n).ToArray());
            yield return (batch, Run(binding.ModelInputs(batch)));
        }
    }

    /// <summary>An evaluation needs at least one sample, and a whole batch for a model with a fixed batch size.</summary>
    private void CheckSamples(IDataSource data, int batchSize, bool fixedBatch)
    {
        if (batchSize < 1)
            throw new OptionsException($"batch size {batchSize} is out of range; use 1 or more");
        if (data.Count == 0)
            throw new DataException($"the test set has no samples ({data.Name}); evaluate on a data set that holds at least one sample");
        if (fixedBatch && data.Count < batchSize)
            throw new DataException($"'{Source}' has a fixed batch size of {batchSize} but the test set holds {data.Count} samples ({data.Name}); evaluate on at least {batchSize}");
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
