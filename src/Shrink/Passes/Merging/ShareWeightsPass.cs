using System.Buffers;
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

    /// <summary>Values of a kept tensor held for the first test; the whole tensor is compared only when these are close.</summary>
    private const int HeadLength = 64;

    /// <summary>
    /// Shares the tensors of one bucket: each is compared with the tensors kept so far, and replaced by the first that is close
    /// enough. Only each kept tensor's largest magnitude and first <see cref="HeadLength"/> values are held; the whole of a
    /// kept tensor is read again (from its file when it is external, never loaded) only when those are close, so a bucket of
    /// many large distinct weights costs two layers of memory, not a float64 copy of each.
    /// </summary>
    private IEnumerable<LayerMerge> ShareWithin(Graph graph, List<Value> bucket)
    {
        var kept = new List<(Value Value, double Max, double[] Head, List<string> Replaced)>();
        foreach (var v in bucket)
        {
            using var values = Doubles.Of(v.Const!);
            var max = MaxAbs(values.Span);
            var head = values.Span[..Math.Min(HeadLength, values.Length)].ToArray();
            var match = -1;
            for (var k = 0; k < kept.Count && match < 0; k++)
            {
                var bound = _options.Tolerance * Math.Max(kept[k].Max, max);
                if (!Close(kept[k].Head, head, bound)) continue;
                using var other = Doubles.Of(kept[k].Value.Const!);
                if (Close(other.Span, values.Span, bound)) match = k;
            }
            if (match < 0)
            {
                kept.Add((v, max, head, new List<string> { v.Name }));
                continue;
            }
            graph.ReplaceAllUsesWith(v, kept[match].Value);
            kept[match].Replaced.Add(v.Name);
        }
        return kept.Where(k => k.Replaced.Count > 1)
            .Select(k => new LayerMerge(MergeKind.Share, k.Replaced, k.Value.Name, k.Replaced.Count * k.Value.Const!.ElementCount, k.Value.Const!.ElementCount));
    }

    private static double MaxAbs(ReadOnlySpan<double> values)
    {
        var max = 0.0;
        foreach (var x in values) max = Math.Max(max, Math.Abs(x));
        return max;
    }

    private static bool Close(ReadOnlySpan<double> a, ReadOnlySpan<double> b, double bound)
    {
        for (var i = 0; i < a.Length; i++)
            if (!(Math.Abs(a[i] - b[i]) <= bound)) return false;
        return true;
    }

    /// <summary>A tensor's values in float64, in a rented buffer: float32 read without loading the tensor, other types converted.</summary>
    private sealed class Doubles : IDisposable
    {
        private double[]? _buffer;

        private Doubles(double[] buffer, int length) => (_buffer, Length) = (buffer, length);

        public int Length { get; }

        public ReadOnlySpan<double> Span => _buffer.AsSpan(0, Length);

        public static Doubles Of(Tensor t)
        {
            var length = checked((int)t.ElementCount);
            var buffer = ArrayPool<double>.Shared.Rent(length);
            t.ReadDoubles(buffer);
            return new Doubles(buffer, length);
        }

        public void Dispose()
        {
            if (_buffer is not null) ArrayPool<double>.Shared.Return(_buffer);
            _buffer = null;
        }
    }
}
