using System.Text.Json.Serialization;
using Shrink.Ir;
using Shrink.Techniques;

namespace Shrink.Passes.Pruning;

/// <summary>
/// Options of unstructured pruning. <see cref="Method"/>: <see cref="PruneMethod.Magnitude"/> (smallest |w|),
/// <see cref="PruneMethod.Random"/> (a seeded baseline), <see cref="PruneMethod.Taylor"/> (smallest first-order
/// saliency |w·∂L/∂w|, from <see cref="Scores"/> measured on data by the trainer) or <see cref="PruneMethod.NM"/>
/// with a <see cref="Pattern"/> such as 2:4 (keep the N largest of every M consecutive weights along the summed
/// axis; sparsity is then 1 − N/M).
/// </summary>
public sealed record UnstructuredPruneOptions
{
    public PruneMethod Method { get; init; } = PruneMethod.Magnitude;
    public double Sparsity { get; init; }
    public PruneScope Scope { get; init; } = PruneScope.Layer;

    /// <summary>The N:M pattern of <see cref="PruneMethod.NM"/>.</summary>
    public NmPattern? Pattern { get; init; }

    /// <summary>When set, only these layers are pruned, each at its own sparsity.</summary>
    public IReadOnlyDictionary<string, double>? LayerSparsity { get; init; }

    public int Seed { get; init; }

    /// <summary>Per-weight scores by weight initializer name (lowest pruned first), for data-driven criteria such as taylor.</summary>
    public IReadOnlyDictionary<string, float[]>? Scores { get; init; }

    /// <summary>The (N, M) of an N:M method, or null.</summary>
    public (int N, int M)? NM => Method == PruneMethod.NM && Pattern is { } p ? (p.N, p.M) : null;

    /// <summary>Checks a sparsity: in [0, 1). <paramref name="property"/> names the options property it came from.</summary>
    internal static void CheckSparsity(double s, string property = nameof(Sparsity))
    {
        if (double.IsNaN(s) || s < 0 || s >= 1) throw OptionsException.For(property, $"is {s}; it must be in [0, 1), e.g. 0.9 for 90 % zeros");
    }

    public UnstructuredPruneOptions Validate()
    {
        if (Method == PruneMethod.NM)
        {
            if (Pattern is not { } nm) throw OptionsException.For(nameof(Pattern), "is missing: the N:M method needs one, e.g. 2:4");
            if (nm.N < 1 || nm.M < 2 || nm.N >= nm.M || nm.M > 64) throw OptionsException.For(nameof(Pattern), $"{nm}: N:M needs 1 ≤ N < M ≤ 64, e.g. 2:4");
            if (LayerSparsity is not null) throw OptionsException.For(nameof(Pattern), $"{nm} sets the sparsity itself (1 − N/M); it takes no per-layer sparsities");
        }
        else if (Method is not (PruneMethod.Magnitude or PruneMethod.Random or PruneMethod.Taylor))
            throw OptionsException.For(nameof(Method), $"{Method.Name()} is not an unstructured pruning method; choose magnitude, random, taylor or an N:M pattern such as 2:4");
        else if (LayerSparsity is null) CheckSparsity(Sparsity);
        foreach (var (layer, s) in LayerSparsity ?? new Dictionary<string, double>())
            if (double.IsNaN(s) || s < 0 || s >= 1) throw OptionsException.For(nameof(LayerSparsity), $"gives layer '{layer}' {s}; a sparsity must be in [0, 1), e.g. 0.9 for 90 % zeros");
        if (LayerSparsity is not null && Scope == PruneScope.Global)
            throw OptionsException.For(nameof(LayerSparsity), "gives each layer its own sparsity; it cannot be combined with a global scope");
        return this;
    }
}

/// <summary>
/// Which weights survive: per weight initializer, true where the weight is kept. The <c>pruning-masks</c>
/// artifact of <see cref="UnstructuredPrunePass"/>; in JSON each mask is its length and its bits in base64.
/// </summary>
public sealed class PruningMasks : IArtifact
{
    private readonly Dictionary<string, bool[]> _keep = new();

    public PruningMasks() { }

    [JsonConstructor]
    public PruningMasks(IReadOnlyDictionary<string, bool[]> keep)
    {
        foreach (var (name, mask) in keep) _keep[name] = mask;
    }

    public string Kind => "pruning-masks";
    public int Version => 1;

    [JsonConverter(typeof(PackedMasksConverter))]
    public IReadOnlyDictionary<string, bool[]> Keep => _keep;

    public void Set(string weight, bool[] keep) => _keep[weight] = keep;

    /// <summary>The masks an already-pruned model implies: every zero of a prunable weight stays zero.</summary>
    public static PruningMasks FromZeros(Model model)
    {
        var masks = new PruningMasks();
        foreach (var w in PrunableWeights.Find(model))
        {
            var values = w.Tensor.Floats;
            if (values.Contains(0f)) masks.Set(w.Weight.Name, values.ToArray().Select(v => v != 0).ToArray());
        }
        return masks;
    }

    /// <summary>Zeroes the pruned weights of a model (the named initializers get new tensors).</summary>
    public void ApplyTo(Model model)
    {
        foreach (var (name, keep) in _keep)
            Apply(model.Graph.FindInitializer(name) ?? throw new InvalidOperationException($"no initializer '{name}'"), keep);
    }

    /// <summary>
    /// Gives <paramref name="init"/> a new tensor: its values with the pruned ones zeroed. The values are copied once (read without
    /// loading a tensor still in its external data file), so a layer costs one copy of itself.
    /// </summary>
    internal static void Apply(Value init, bool[] keep)
    {
        var t = init.Const!;
        var data = t.CopyBytes();
        var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data.AsSpan());
        for (var i = 0; i < values.Length; i++)
            if (!keep[i]) values[i] = 0;
        init.Const = new Tensor(init.Name, DataType.Float, t.Dims, data);
    }
}

/// <summary>
/// Unstructured pruning: zeroes individual weights of the layers with weights (<see cref="PrunableWeights"/>) by magnitude, at
/// random, or in an N:M pattern; layer-wise, against one global threshold, or per layer from a
/// configuration. Data-free; the model keeps its shapes (a dense runtime is not faster).
/// Counters: <c>weights</c>, <c>pruned</c>, <c>layers</c>.
/// </summary>
public sealed class UnstructuredPrunePass : Pass
{
    private readonly UnstructuredPruneOptions _options;

    public UnstructuredPrunePass(UnstructuredPruneOptions options) => _options = options.Validate();

    public override string Id => "prune-unstructured";

    public override string? CheckPreconditions(Model model)
    {
        if (_options.Method == PruneMethod.Taylor && _options.Scores is null) return "taylor measures |w·∂L/∂w| on data: give the measured scores";
        var weights = PrunableWeights.Find(model);
        if (PrunableWeights.Problem(weights, _options.LayerSparsity) is { } problem) return problem;
        var bad = weights.FirstOrDefault(w => !w.Tensor.AllFinite());
        if (bad is not null) return $"the weights of layer '{bad.LayerName}' contain NaN or infinity; fix or retrain the model first";
        return null;
    }

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        if (CheckPreconditions(model) is { } reason) throw new OptionsException(reason);
        var weights = PrunableWeights.Find(model);
        if (_options.LayerSparsity is { } config) weights = weights.Where(w => config.ContainsKey(w.LayerName)).ToList();
        var masks = new PruningMasks();
        if (_options.NM is { } nm)
            foreach (var w in weights) masks.Set(w.Weight.Name, NmMask(w, nm.N, nm.M, context));
        else if (_options.Scope == PruneScope.Global)
            GlobalMasks(weights, masks);
        else
            LayerMasks(weights, masks);
        if (_options.NM is not null || _options.Scope == PruneScope.Global) masks.ApplyTo(model);
        var total = weights.Sum(w => w.Tensor.ElementCount);
        var pruned = masks.Keep.Values.Sum(k => (long)k.Count(x => !x));
        return new PassResult(model, pruned > 0, new Dictionary<string, long> { ["weights"] = total, ["pruned"] = pruned, ["layers"] = weights.Count })
        {
            Artifacts = new IArtifact[] { masks }, // for fine-tuning that keeps the pruned weights at zero
        };
    }

    /// <summary>
    /// Layer scope, layer by layer: each weight is scored, masked and replaced before the next is read. The scores and their
    /// order live in two buffers the size of the largest layer, reused, so that a big model's pass leaves no per-layer garbage
    /// but the masks.
    /// </summary>
    private void LayerMasks(IReadOnlyList<PrunableWeight> weights, PruningMasks masks)
    {
        var largest = weights.Count == 0 ? 0 : checked((int)weights.Max(w => w.Tensor.ElementCount));
        var (scores, order) = (new float[largest], new long[largest]);
        foreach (var w in weights)
        {
            var n = (int)w.Tensor.ElementCount;
            FillScores(w, scores.AsSpan(0, n));
            var keep = Smallest(scores.AsSpan(0, n), order.AsSpan(0, n), _options.LayerSparsity?[w.LayerName] ?? _options.Sparsity);
            masks.Set(w.Weight.Name, keep);
            PruningMasks.Apply(w.Weight, keep);
        }
    }

    private float[] Scores(PrunableWeight w)
    {
        var scores = new float[w.Tensor.ElementCount];
        FillScores(w, scores);
        return scores;
    }

    /// <summary>Writes the scores of <paramref name="w"/>'s weights (lowest pruned first) into <paramref name="scores"/>.</summary>
    private void FillScores(PrunableWeight w, Span<float> scores)
    {
        if (_options.Scores is { } given)
        {
            if (!given.TryGetValue(w.Weight.Name, out var s) || s.Length != w.Tensor.ElementCount)
                throw new OptionsException($"no {_options.Method.Name()} scores for layer '{w.LayerName}'; the scores were measured on another model");
            s.CopyTo(scores);
            return;
        }
        if (_options.Method == PruneMethod.Random)
        {
            // Seeded by the seed and the weight's name through a stable hash (string.GetHashCode and HashCode differ from process to process).
            var random = new Random((int)(System.IO.Hashing.XxHash32.HashToUInt32(System.Text.Encoding.UTF8.GetBytes(w.Weight.Name), _options.Seed) & 0x7fffffff));
            for (var i = 0; i < scores.Length; i++) scores[i] = random.NextSingle();
            return;
        }
        using var weight = w.Tensor.ReadFloats(); // read into a reused buffer: an external weight stays unloaded
        var values = weight.Values;
        for (var i = 0; i < scores.Length; i++) scores[i] = Math.Abs(values[i]);
    }

    /// <summary>Keeps all but the round(sparsity·n) lowest scores; ties broken by position. <paramref name="order"/> is scratch of the scores' length.</summary>
    private static bool[] Smallest(ReadOnlySpan<float> scores, Span<long> order, double sparsity)
    {
        var keep = new bool[scores.Length];
        Array.Fill(keep, true);
        var k = (int)Math.Round(sparsity * scores.Length);
        if (k == 0) return keep;
        // Sorted as (score, position) packed in one long: the order of comparing the score, then the position, without a comparer.
        for (var i = 0; i < scores.Length; i++) order[i] = ((long)SortableBits(scores[i]) << 32) | (uint)i;
        order.Sort();
        for (var j = 0; j < k; j++) keep[(int)(order[j] & 0xFFFF_FFFF)] = false;
        return keep;
    }

    /// <summary>
    /// An unsigned key in the order of <see cref="float.CompareTo(float)"/>: NaN first, −0 and +0 equal, negatives below positives.
    /// </summary>
    private static uint SortableBits(float f)
    {
        if (float.IsNaN(f)) return 0;
        var bits = BitConverter.SingleToUInt32Bits(f == 0 ? 0f : f);
        return (bits & 0x8000_0000) != 0 ? ~bits : bits | 0x8000_0000; // never 0: 0 is NaN's alone
    }

    private void GlobalMasks(IReadOnlyList<PrunableWeight> weights, PruningMasks masks)
    {
        var scores = weights.Select(Scores).ToList();
        var all = scores.SelectMany(s => s).ToArray();
        var k = (long)Math.Round(_options.Sparsity * all.LongLength);
        if (k == 0)
        {
            foreach (var w in weights) masks.Set(w.Weight.Name, Enumerable.Repeat(true, (int)w.Tensor.ElementCount).ToArray());
            return;
        }
        Array.Sort(all);
        var threshold = all[k - 1];
        var below = all.LongCount(v => v < threshold);
        var ties = k - below; // how many weights equal to the threshold go too, in layer and position order
        for (var l = 0; l < weights.Count; l++)
        {
            var keep = new bool[scores[l].Length];
            for (var i = 0; i < keep.Length; i++)
            {
                var s = scores[l][i];
                keep[i] = !(s < threshold || (s == threshold && ties-- > 0));
            }
            masks.Set(weights[l].Weight.Name, keep);
        }
    }

    private static bool[] NmMask(PrunableWeight w, int n, int m, PassContext context)
    {
        var values = w.Tensor.Floats.ToArray();
        var dims = w.Tensor.Dims;
        var keep = new bool[values.Length];
        Array.Fill(keep, true);
        // Lines along the summed axis: rows of [O, rest] or columns of [I, O].
        long lines, length, stride, step;
        if (w.ReducesOverRows) { lines = dims[0]; length = values.Length / dims[0]; stride = length; step = 1; }
        else { lines = values.Length / dims[0]; length = dims[0]; stride = 1; step = lines; }
        if (length % m != 0)
            context.Notes.Add($"{w.LayerName}: {length} weights per line is not a multiple of {m}; the last {length % m} of each line stay dense");
        var group = new (float Score, long Index)[m];
        for (long line = 0; line < lines; line++)
            for (long g = 0; g + m <= length; g += m)
            {
                for (var j = 0; j < m; j++)
                {
                    var index = line * stride + (g + j) * step;
                    group[j] = (Math.Abs(values[index]), index);
                }
                foreach (var (_, index) in group.OrderBy(e => e.Score).ThenBy(e => e.Index).Take(m - n)) keep[index] = false;
            }
        return keep;
    }
}
