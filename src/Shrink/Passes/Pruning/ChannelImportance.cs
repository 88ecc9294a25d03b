using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Pruning;

/// <summary>
/// An importance criterion of structured pruning: one score per channel of a group (higher = more
/// important), read from the analysis (<see cref="ChannelFlow"/>) — the producers' weights, the BatchNorm
/// parameters along the way — or measured on data by the caller. (Torch-Pruning's <c>pruner/importance.py</c>.)
/// </summary>
public interface IChannelImportance
{
    /// <summary>The scores of the group's channels, or null when the criterion has nothing to read for it.</summary>
    double[]? Score(ChannelFlow flow, ChannelGroup group);

    /// <summary>Why a group gets no score, for the note that says it is left alone.</summary>
    string Missing { get; }
}

/// <summary>The criteria by method.</summary>
public static class ChannelImportance
{
    /// <summary>
    /// The criterion of a structured <paramref name="method"/>; the measured ones (apoz, entropy, taylor-filter) read
    /// <paramref name="measured"/>, scores per channel by group key.
    /// </summary>
    public static IChannelImportance For(PruneMethod method, IReadOnlyDictionary<string, double[]>? measured = null) => method switch
    {
        PruneMethod.L1Filter => new FilterNorm(l1: true),
        PruneMethod.L2Filter => new FilterNorm(l1: false),
        PruneMethod.Fpgm => new GeometricMedian(),
        PruneMethod.BnScale or PruneMethod.Slim => new BatchNormScale(method),
        PruneMethod.Apoz or PruneMethod.Entropy or PruneMethod.TaylorFilter => new MeasuredScores(measured ?? throw new ArgumentNullException(nameof(measured))),
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "not a structured pruning method"),
    };

    /// <summary>
    /// The slices of a tensor along an axis, each flattened, in float64. A float32 tensor is read through
    /// <see cref="Tensor.ReadFloats"/> (a pooled buffer; an external weight stays unloaded), so only the rows are new.
    /// </summary>
    internal static double[][] Rows(Tensor t, int axis)
    {
        var (outer, channels, inner) = Split(t, axis);
        var rows = new double[channels][];
        for (var c = 0; c < channels; c++) rows[c] = new double[outer * inner];
        if (t.DataType != DataType.Float)
        {
            var values = t.ToDoubles();
            for (long o = 0; o < outer; o++)
                for (var c = 0; c < channels; c++)
                    Array.Copy(values, (o * channels + c) * inner, rows[c], o * inner, inner);
            return rows;
        }
        using var lease = t.ReadFloats();
        var floats = lease.Values;
        for (long o = 0; o < outer; o++)
            for (var c = 0; c < channels; c++)
            {
                var source = floats.Slice((int)((o * channels + c) * inner), (int)inner);
                var row = rows[c].AsSpan((int)(o * inner), (int)inner);
                for (var j = 0; j < source.Length; j++) row[j] = source[j];
            }
        return rows;
    }

    /// <summary>
    /// The L1 norm (Σ|w|) or the L2 norm (√Σw²) of each slice of a tensor along an axis, summed in float64 in the slice's
    /// order (as <c>Rows(t, axis)[c].Sum(…)</c> would, bit for bit) while the values stream once from
    /// <see cref="Tensor.ReadFloats"/>: no float64 copy of the weight, and an external weight stays unloaded.
    /// </summary>
    internal static double[] RowNorms(Tensor t, int axis, bool l1)
    {
        if (t.DataType != DataType.Float)
            return Rows(t, axis).Select(r => l1 ? r.Sum(Math.Abs) : Math.Sqrt(r.Sum(x => x * x))).ToArray();
        var (outer, channels, inner) = Split(t, axis);
        var sums = new double[channels];
        using var lease = t.ReadFloats();
        var values = lease.Values;
        var at = 0;
        for (long o = 0; o < outer; o++)
            for (var c = 0; c < channels; c++)
            {
                var sum = sums[c];
                foreach (var v in values.Slice(at, (int)inner))
                {
                    double x = v;
                    sum += l1 ? Math.Abs(x) : x * x;
                }
                sums[c] = sum;
                at += (int)inner;
            }
        if (!l1)
            for (var c = 0; c < channels; c++) sums[c] = Math.Sqrt(sums[c]);
        return sums;
    }

    /// <summary>A tensor's elements as [outer, channels, inner] around <paramref name="axis"/>.</summary>
    private static (long Outer, int Channels, long Inner) Split(Tensor t, int axis)
    {
        var dims = t.Dims;
        long inner = 1;
        for (var i = axis + 1; i < dims.Length; i++) inner *= dims[i];
        return (t.ElementCount / (dims[axis] * inner), (int)dims[axis], inner);
    }
}

/// <summary><c>l1-filter</c> / <c>l2-filter</c>: the norm of each channel's filters, summed over the group's producers (Li et al. 2017).</summary>
public sealed class FilterNorm : IChannelImportance
{
    private readonly bool _l1;

    public FilterNorm(bool l1) => _l1 = l1;

    public string Missing => "it has no filters";

    public double[] Score(ChannelFlow flow, ChannelGroup group)
    {
        var scores = new double[group.Channels];
        foreach (var p in group.Producers)
        {
            var norms = ChannelImportance.RowNorms(p.Weight.Const!, p.Axis, _l1);
            for (var c = 0; c < norms.Length; c++) scores[c] += norms[c];
        }
        return scores;
    }
}

/// <summary>
/// <c>fpgm</c> (He et al. 2019): for each filter the sum of its Euclidean distances to the other filters of its
/// layer; the smallest lie nearest the geometric median and are the most replaceable.
/// </summary>
public sealed class GeometricMedian : IChannelImportance
{
    public string Missing => "it has no filters";

    public double[] Score(ChannelFlow flow, ChannelGroup group)
    {
        var scores = new double[group.Channels];
        foreach (var p in group.Producers)
        {
            var rows = ChannelImportance.Rows(p.Weight.Const!, p.Axis);
            for (var a = 0; a < rows.Length; a++)
                for (var b = a + 1; b < rows.Length; b++)
                {
                    var d = Math.Sqrt(rows[a].Zip(rows[b]).Sum(x => (x.First - x.Second) * (x.First - x.Second)));
                    scores[a] += d;
                    scores[b] += d;
                }
        }
        return scores;
    }
}

/// <summary>
/// <c>bn-scale</c> and <c>slim</c>: |γ| of the BatchNorm scales that carry the group's channels, summed over them
/// (slim: after the caller's sparsity training, Liu et al. 2017). Scores compare across groups.
/// </summary>
public sealed class BatchNormScale : IChannelImportance
{
    private readonly PruneMethod _method;

    public BatchNormScale(PruneMethod method) => _method = method;

    public string Missing => $"no BatchNormalization in the group for {_method.Name()}";

    public double[]? Score(ChannelFlow flow, ChannelGroup group)
    {
        var scores = new double[group.Channels];
        var found = false;
        foreach (var p in flow.Parameters.Where(p => OpRoles.Channels(p.Layer) == ChannelFlowKind.Normalization && p.Index == OpRoles.Weights(p.Layer)?.Weight))
        {
            var values = p.Tensor.Const!.ToDoubles();
            var refs = flow.Layouts[p.Input].Refs;
            for (var i = 0; i < refs.Length; i++)
                if (flow.Root(refs[i].Group) == group.Id)
                {
                    scores[refs[i].Index] += Math.Abs(values[i]);
                    found = true;
                }
        }
        return found ? scores : null;
    }
}

/// <summary>Scores measured on data by the caller (<c>apoz</c>, <c>entropy</c>: <see cref="ActivationCriteria"/>; <c>taylor-filter</c>: the trainer), by group key.</summary>
public sealed class MeasuredScores : IChannelImportance
{
    private readonly IReadOnlyDictionary<string, double[]> _scores;

    public MeasuredScores(IReadOnlyDictionary<string, double[]> scores) => _scores = scores;

    public string Missing => "no activations were measured for it";

    public double[]? Score(ChannelFlow flow, ChannelGroup group) =>
        _scores.TryGetValue(group.Key, out var measured) && measured.Length == group.Channels ? measured : null;
}
