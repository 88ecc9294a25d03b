using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Runtime;

namespace Shrink.Passes.Pruning;

/// <summary>
/// Channel criteria measured on data with ONNX Runtime, after the ReLU-like activations that carry
/// each group's channels (<see cref="ChannelGroup.Activations"/>):
/// <c>apoz</c>, one minus the average percentage of zeros (Hu et al. 2016: a channel that is mostly
/// zero contributes little), and <c>entropy</c>, the entropy of the channel's spatially pooled
/// activation over the samples in 32 bins (Luo &amp; Wu 2017: a channel whose output hardly varies
/// carries little information). Higher scores mean more important; scores are averaged over the
/// activations a channel appears in.
/// </summary>
public static class ActivationCriteria
{
    private const int Bins = 32;

    /// <summary>Scores per channel, by group key, for <see cref="StructuredPruneOptions.ChannelScores"/>: <paramref name="method"/> is apoz or entropy.</summary>
    public static Dictionary<string, double[]> Measure(Model model, IDataSource data, PruneMethod method, int samples = 1024, RunnerOptions? options = null)
    {
        if (method is not (PruneMethod.Apoz or PruneMethod.Entropy))
            throw OptionsException.For("Method", $"{method.Name()} is not an activation criterion; choose apoz or entropy");
        if (samples < 1) throw OptionsException.For("ScoreSamples", $"must be at least 1, got {samples}");
        var copy = model.Clone();
        var flow = ChannelFlow.Analyze(copy);
        var groups = flow.Groups.Where(g => g.Blocker is null && g.Activations.Count > 0).ToList();
        var stats = Tap(copy, flow, groups, data, samples, options);
        var result = new Dictionary<string, double[]>();
        foreach (var g in groups) result[g.Key] = Average(flow, g, stats, method);
        return result;
    }

    /// <summary>Runs the samples with the groups' activations as extra outputs and collects their statistics.</summary>
    private static Dictionary<string, TapStats> Tap(Model copy, ChannelFlow flow, List<ChannelGroup> groups, IDataSource data, int samples, RunnerOptions? options)
    {
        var taps = groups.SelectMany(g => g.Activations).Distinct().ToList();
        foreach (var v in taps.Where(v => !copy.Graph.Outputs.Contains(v))) copy.Graph.Outputs.Add(v);
        var stats = taps.ToDictionary(v => v.Name, v => new TapStats(flow.Layouts[v]));
        using (var runner = OnnxRunner.FromModel(copy, options, "activations"))
            foreach (var (outputs, count) in runner.RunBatches(data.Take(samples), 128))
                foreach (var o in outputs)
                    if (stats.TryGetValue(o.Name, out var s)) s.Add((float[])o.Data, o.Shape, count);
        if (stats.Count > 0 && stats.Values.All(s => s.Empty))
            throw new DataException("no batch of the data could run to measure the activations (a model with a fixed batch size larger than the score samples?); give more samples");
        return stats;
    }

    /// <summary>A group's score per channel: the criterion averaged over the activations the channel appears in.</summary>
    private static double[] Average(ChannelFlow flow, ChannelGroup g, Dictionary<string, TapStats> stats, PruneMethod method)
    {
        var sum = new double[g.Channels];
        var seen = new int[g.Channels];
        foreach (var v in g.Activations)
        {
            var s = stats[v.Name];
            var refs = flow.Layouts[v].Refs;
            for (var p = 0; p < refs.Length; p++)
            {
                if (flow.Root(refs[p].Group) != g.Id) continue;
                sum[refs[p].Index] += method == PruneMethod.Apoz ? 1 - s.ZeroFraction(p) : s.Entropy(p);
                seen[refs[p].Index]++;
            }
        }
        return sum.Select((x, c) => seen[c] == 0 ? 0 : x / seen[c]).ToArray();
    }

    /// <summary>Per position along a value's channel axis: zero count, element count, and the per-sample mean.</summary>
    private sealed class TapStats
    {
        private readonly bool _spatial;
        private readonly long[] _zeros;
        private readonly long[] _elements;
        private readonly List<float>[] _means;

        public TapStats(ChannelLayout layout)
        {
            _spatial = layout.Spatial;
            _zeros = new long[layout.Length];
            _elements = new long[layout.Length];
            _means = Enumerable.Range(0, layout.Length).Select(_ => new List<float>()).ToArray();
        }

        public void Add(float[] data, long[] shape, int batch)
        {
            var channels = _zeros.Length;
            // Spatial: [N, C, rest…]; dense: [rest…, C] with every leading position a sample.
            var inner = _spatial ? (int)(data.Length / ((long)batch * channels)) : 1;
            var rows = _spatial ? batch : data.Length / channels;
            for (var n = 0; n < rows; n++)
                for (var c = 0; c < channels; c++)
                {
                    double total = 0;
                    var zeros = 0;
                    var offset = _spatial ? ((long)n * channels + c) * inner : (long)n * channels + c;
                    for (var i = 0; i < inner; i++)
                    {
                        var x = data[offset + i];
                        total += x;
                        if (x == 0) zeros++;
                    }
                    _zeros[c] += zeros;
                    _elements[c] += inner;
                    _means[c].Add((float)(total / inner));
                }
        }

        public bool Empty => _elements.All(e => e == 0);

        public double ZeroFraction(int p) => _elements[p] == 0 ? 0 : (double)_zeros[p] / _elements[p];

        public double Entropy(int p)
        {
            var values = _means[p];
            if (values.Count == 0) return 0;
            var (min, max) = (values.Min(), values.Max());
            if (max <= min) return 0;
            var counts = new int[Bins];
            foreach (var v in values) counts[Math.Min(Bins - 1, (int)((v - min) / (max - min) * Bins))]++;
            return -counts.Where(k => k > 0).Sum(k => (double)k / values.Count * Math.Log((double)k / values.Count));
        }
    }
}
