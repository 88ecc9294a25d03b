using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Deployment;

/// <summary>
/// <c>split</c>: plans cutting a model into parts that run one after another (a model too large for a device's
/// memory, or a pipeline over two devices). The nodes are taken in topological order (<see cref="SplitAnalysis"/>),
/// and a part is a contiguous range of it; cut c costs the bytes of the activations that cross it (defined before c
/// and read at or after it: with residual or concatenated branches, several tensors). Dynamic programming over the
/// cut positions chooses the cuts of least total crossing bytes such that
/// <list type="bullet">
/// <item>with <see cref="SplitOptions.MaxPartBytes"/>: each part's weights stay under the bound, and with
/// <see cref="SplitOptions.MaxPartMemory"/>, its weights plus its peak activation memory at the batch size;
/// ties go to fewer parts;</item>
/// <item>with <see cref="SplitOptions.Parts"/> = K: exactly K parts, each with at most 1.1 × M* of weights, where M*
/// is the least largest part over all splits into K (a first min-max pass), so parts are of similar size.</item>
/// </list>
/// The model is not changed; the plan is the <see cref="SplitPlan"/> artifact, and <see cref="ModelParts"/> makes
/// the part models from it. Needs no data and no training; parts run in ONNX Runtime with the whole model's outputs.
/// Counters: <c>parts</c>, <c>boundary-tensors</c>, <c>crossing-bytes</c>, <c>largest-part-bytes</c>.
/// </summary>
public sealed class SplitPass : Pass
{
    /// <summary>The slack over the most even split that <see cref="SplitOptions.Parts"/> allows a part, so that the cuts can move to where little crosses.</summary>
    public const double PartsSlack = 1.1;

    private readonly SplitOptions _options;

    public SplitPass(SplitOptions options) => _options = options.Validate();

    public override string Id => "split";

    /// <summary>Plans the cuts of <paramref name="model"/> (which is not modified), inferring shapes on a copy.</summary>
    public SplitPlan Plan(Model model) => Run(model, new PassContext()).Artifact<SplitPlan>()!;

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        ShapeInference.Run(model);
        var analysis = SplitAnalysis.Of(model, _options.Batch);
        var n = analysis.Order.Count;
        if (n == 0) throw new OptionsException("the model has no nodes to split");
        if (_options.Parts is { } k && k > n)
            throw OptionsException.For(nameof(SplitOptions.Parts), $"is {k}, more than the {n} nodes of the model (Constant nodes not counted); give at most {n}");
        var memory = _options.MaxPartMemory is not null;
        var bound = _options.MaxPartBytes ?? _options.MaxPartMemory;
        if (bound is { } b) CheckLayers(analysis, b, memory);
        var starts = bound is { } limit ? Bounded(analysis, limit, memory) : Counted(analysis, _options.Parts!.Value, out bound);
        var plan = Describe(analysis, starts, bound);
        var stats = new Dictionary<string, long>
        {
            ["parts"] = plan.Parts.Count,
            ["boundary-tensors"] = plan.Boundary.Count(t => t.FromPart >= 0),
            ["crossing-bytes"] = plan.CrossingBytes,
            ["largest-part-bytes"] = plan.Parts.Max(p => p.WeightBytes),
        };
        return new PassResult(model, false, stats) { Artifacts = [plan] };
    }

    /// <summary>Refuses a bound that the largest single node exceeds on its own, naming the node and its bytes.</summary>
    private void CheckLayers(SplitAnalysis a, long bound, bool memory)
    {
        var costs = Enumerable.Range(0, a.Order.Count).Select(i => (Index: i, Cost: Cost(a, i, i, memory))).ToList();
        var (index, cost) = costs.MaxBy(c => c.Cost);
        if (cost <= bound) return;
        var node = a.Order[index];
        var option = memory ? nameof(SplitOptions.MaxPartMemory) : nameof(SplitOptions.MaxPartBytes);
        var what = memory ? $"weights and activations at batch {_options.Batch} take" : "weights take";
        throw OptionsException.For(option,
            $"is {bound} bytes, smaller than layer '{Text.Message.Name(node.DisplayName)}' ({node.OpType}), whose {what} {cost} bytes; give at least {cost} bytes");
    }

    /// <summary>
    /// What cut <paramref name="c"/> costs: the bytes crossing it, after a penalty larger than all crossing bytes
    /// together for each tensor it takes from between two nodes ONNX Runtime would fuse (so such cuts are made only
    /// where no other cut fits the bound).
    /// </summary>
    private static long CutCost(SplitAnalysis a, int c, long penalty) => c == 0 ? 0 : a.FusingAt(c) * penalty + a.CrossingAt(c);

    private static long Penalty(SplitAnalysis a) => 1 + Enumerable.Range(1, Math.Max(0, a.Order.Count - 1)).Sum(a.CrossingAt);

    private static long Cost(SplitAnalysis a, int first, int last, bool memory) =>
        a.WeightBytes(first, last) + (memory ? a.PeakActivationBytes(first, last) : 0);

    /// <summary>Least total crossing bytes with every part under <paramref name="bound"/> (ties: fewer parts); returns each part's first node.</summary>
    private static List<int> Bounded(SplitAnalysis a, long bound, bool memory)
    {
        var n = a.Order.Count;
        var best = new (long Cost, int Parts, int From)[n + 1];
        Array.Fill(best, (long.MaxValue, int.MaxValue, -1));
        best[0] = (0, 0, -1);
        var penalty = Penalty(a);
        for (var i = 0; i < n; i++)
        {
            if (best[i].From < 0 && i > 0) continue;
            var entering = CutCost(a, i, penalty);
            var weights = a.WeightRow(i, bound);
            for (var j = i; j < n && j - i < weights.Count; j++)
            {
                var cost = weights[j - i] + (memory ? a.PeakActivationBytes(i, j) : 0);
                if (cost > bound) break;
                var candidate = (best[i].Cost + entering, best[i].Parts + 1, i);
                if (candidate.Item1 < best[j + 1].Cost || (candidate.Item1 == best[j + 1].Cost && candidate.Item2 < best[j + 1].Parts))
                    best[j + 1] = candidate;
            }
        }
        var starts = new List<int>();
        for (var end = n; end > 0; end = best[end].From) starts.Add(best[end].From);
        starts.Reverse();
        return starts;
    }

    /// <summary>Exactly <paramref name="k"/> parts of least total crossing bytes among those within <see cref="PartsSlack"/> of the most even split.</summary>
    private static List<int> Counted(SplitAnalysis a, int k, out long? bound)
    {
        var n = a.Order.Count;
        var w = Enumerable.Range(0, n).Select(i => a.WeightRow(i)).ToArray();
        var even = MinMax(w, n, k);
        var limit = even + (long)Math.Floor(even * (PartsSlack - 1));
        bound = limit;
        var cost = new long[k + 1, n + 1];
        var from = new int[k + 1, n + 1];
        for (var p = 0; p <= k; p++) for (var j = 0; j <= n; j++) cost[p, j] = long.MaxValue;
        cost[0, 0] = 0;
        var penalty = Penalty(a);
        for (var p = 1; p <= k; p++)
            for (var j = p; j <= n - (k - p); j++)
                for (var i = p - 1; i < j; i++)
                {
                    if (cost[p - 1, i] == long.MaxValue || w[i][j - 1 - i] > limit) continue;
                    var c = cost[p - 1, i] + CutCost(a, i, penalty);
                    if (c < cost[p, j]) (cost[p, j], from[p, j]) = (c, i);
                }
        var starts = new List<int>();
        for (int p = k, end = n; p > 0; end = from[p, end], p--) starts.Add(from[p, end]);
        starts.Reverse();
        return starts;
    }

    /// <summary>The least possible largest part weight when the n nodes are cut into k contiguous parts.</summary>
    private static long MinMax(List<long>[] w, int n, int k)
    {
        var m = new long[n + 1];
        for (var j = 1; j <= n; j++) m[j] = w[0][j - 1];
        for (var p = 2; p <= k; p++)
        {
            var next = new long[n + 1];
            Array.Fill(next, long.MaxValue);
            for (var j = p; j <= n; j++)
                for (var i = p - 1; i < j; i++)
                    next[j] = Math.Min(next[j], Math.Max(m[i], w[i][j - 1 - i]));
            m = next;
        }
        return m[n];
    }

    private SplitPlan Describe(SplitAnalysis a, List<int> starts, long? bound)
    {
        var ends = starts.Skip(1).Select(s => s - 1).Append(a.Order.Count - 1).ToList();
        var memory = _options.MaxPartMemory is not null;
        var parts = starts.Select((s, p) => new PlannedPart(s, ends[p])
        {
            FirstNode = a.Order[s].DisplayName,
            LastNode = a.Order[ends[p]].DisplayName,
            Inputs = a.InputsOf(s, ends[p]).Select(v => v.Name).ToList(),
            Outputs = a.OutputsOf(s, ends[p]).Select(v => v.Name).ToList(),
            WeightBytes = a.WeightBytes(s, ends[p]),
            PeakActivationBytes = a.PeakActivationBytes(s, ends[p]),
        }).ToList();
        return new SplitPlan
        {
            Parts = parts,
            Boundary = Boundary(a, starts, ends),
            Batch = _options.Batch,
            Bound = bound,
            BoundKind = _options.Parts is not null ? "parts" : memory ? "memory" : "weights",
            CrossingBytes = starts.Skip(1).Sum(a.CrossingAt),
            FusedCuts = starts.Skip(1).Count(c => a.FusingAt(c) > 0),
        };
    }

    private static List<BoundaryTensor> Boundary(SplitAnalysis a, List<int> starts, List<int> ends)
    {
        int PartOf(int node) => starts.FindLastIndex(s => s <= node);
        var result = new List<BoundaryTensor>();
        var seen = new HashSet<Value>();
        for (var p = 0; p < starts.Count; p++)
            foreach (var v in a.InputsOf(starts[p], ends[p]))
            {
                if (!seen.Add(v)) continue;
                var from = a.DefinedAt(v) < 0 ? -1 : PartOf(a.DefinedAt(v));
                var to = a.Readers(v).Select(PartOf).Where(q => q != from).Distinct().Order().ToList();
                result.Add(new BoundaryTensor(v.Name, v.ElementType.ShortName(), ShapeText(v), a.BytesOf(v), from, to));
            }
        return result.OrderBy(t => t.FromPart).ToList();
    }

    private static List<string> ShapeText(Value v) => v.Shape?.Dims.Select(d => d.ToString()).ToList() ?? new List<string>();
}
