using Shrink.Ir;
using Shrink.Passes.Pruning;
using Shrink.Techniques;
using Shrink.Text;

namespace Shrink.Passes.Sharing;

/// <summary>Options of weight sharing: bits per layer (2^bits shared values), the k-means start, which layers.</summary>
public sealed record ClusterOptions
{
    /// <summary>Bits of the cluster index for every layer not otherwise set (2^bits shared values).</summary>
    public int Bits { get; init; } = 5;

    /// <summary>Bits for Conv layers (Han et al.: 8 for conv, 5 for fully connected); null uses <see cref="Bits"/>.</summary>
    public int? ConvBits { get; init; }

    /// <summary>Bits per layer name (0 leaves the layer unclustered); these layers only when <see cref="OnlyListed"/>.</summary>
    public IReadOnlyDictionary<string, int>? LayerBits { get; init; }

    /// <summary>Cluster only the layers <see cref="LayerBits"/> names.</summary>
    public bool OnlyListed { get; init; }

    public CentroidInit Init { get; init; } = CentroidInit.Linear;
    public int Iterations { get; init; } = 50;
    public int Seed { get; init; }

    /// <summary>The bits of a layer, 0 when it stays as it is.</summary>
    public int BitsOf(PrunableWeight w) =>
        LayerBits?.TryGetValue(w.LayerName, out var b) == true ? b : OnlyListed ? 0 : w.Layout.Spatial ? ConvBits ?? Bits : Bits;

    /// <summary>Checks the bit widths (1 to 8; 0 also for a listed layer, which leaves it alone) and the iterations.</summary>
    public ClusterOptions Validate()
    {
        foreach (var (option, b) in new[] { (nameof(Bits), (int?)Bits), (nameof(ConvBits), ConvBits) })
            if (b is { } v && v is < 1 or > 8) throw OptionsException.For(option, $"{v} is out of range; use 1 to 8 bits (2 to 256 shared values)");
        foreach (var (layer, v) in LayerBits ?? new Dictionary<string, int>())
            if (v is < 0 or > 8) throw new OptionsException($"layer '{layer}': {v} bits is out of range; use 1 to 8 (2 to 256 shared values), or 0 to leave it alone");
        if (Iterations < 1) throw OptionsException.For(nameof(Iterations), $"must be at least 1, got {Iterations}");
        return this;
    }
}

/// <summary>
/// <c>cluster-weights</c>: weight sharing (Han et al., Deep Compression). The non-zero weights of each
/// Conv/Gemm/MatMul layer are clustered by one-dimensional k-means into 2^bits shared values and each
/// weight is replaced by its centroid; zeros (pruned weights) stay zero. The model stays an ordinary
/// float ONNX model that ONNX Runtime runs; the metadata key <see cref="BitsKey"/> records each clustered
/// weight's index width, which <c>shrink pack</c> uses to store indices and codebooks. Counters:
/// <c>layers</c>, <c>weights</c> (non-zeros clustered).
/// </summary>
public sealed class ClusterPass : Pass
{
    /// <summary>Metadata: "weight:bits,…" for every clustered weight.</summary>
    public const string BitsKey = "shrink.cluster_bits";

    private readonly ClusterOptions _options;

    public ClusterPass(ClusterOptions options) => _options = options.Validate();

    public override string Id => "cluster-weights";

    public override string? CheckPreconditions(Model model) => Refusal(model)?.ToString();

    /// <summary>Why the pass cannot run on <paramref name="model"/> (<see cref="CheckPreconditions"/>), naming the option that lists the layers; null when it can.</summary>
    public OptionText? Refusal(Model model) => PrunableWeights.Refusal(model, _options.LayerBits?.Keys, "cluster", nameof(ClusterOptions.LayerBits));

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        if (Refusal(model) is { } reason) throw new OptionsException(reason);
        var recorded = ReadBits(model);
        var codebooks = new Dictionary<string, Codebook>();
        long layers = 0, clustered = 0;
        var weights = PrunableWeights.Find(model).Where(w => _options.BitsOf(w) > 0).ToList();
        // Layer by layer: each weight is read without loading it, its non-zeros sorted in one buffer the size of the largest
        // layer (reused), and replaced before the next is read; the replacement is the only array a layer leaves.
        var scratch = new float[weights.Count == 0 ? 0 : weights.Max(w => w.Tensor.ElementCount)];
        foreach (var w in weights)
        {
            var bits = _options.BitsOf(w);
            var (values, centroids, nonZero) = Cluster(w.Tensor, 1 << bits, scratch);
            w.Weight.Const = new Tensor(w.Weight.Name, DataType.Float, w.Tensor.Dims, values);
            recorded[w.Weight.Name] = bits;
            codebooks[w.Weight.Name] = new Codebook(bits, centroids);
            layers++;
            clustered += nonZero;
        }
        model.SetMetadata(BitsKey, string.Join(",", recorded.Select(kv => $"{kv.Key}:{kv.Value}")));
        return new PassResult(model, layers > 0, new Dictionary<string, long> { ["layers"] = layers, ["weights"] = clustered })
        {
            Artifacts = new IArtifact[] { new Codebooks { Weights = codebooks } },
        };
    }

    /// <summary>The bytes of <paramref name="t"/>'s weights replaced by their nearest of <paramref name="k"/> centroids fitted to its non-zeros (zeros stay zero), the centroids and the count of non-zeros.</summary>
    private (byte[] Values, float[] Centroids, int NonZero) Cluster(Tensor t, int k, float[] scratch)
    {
        using var weight = t.ReadFloats();
        var source = weight.Values;
        var n = 0;
        foreach (var v in source)
            if (v != 0) scratch[n++] = v;
        var centroids = KMeans1D.FitInPlace(scratch.AsSpan(0, n), k, _options.Init, _options.Iterations, _options.Seed);
        var bytes = new byte[t.ByteLength];
        var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan());
        for (var i = 0; i < values.Length; i++)
            values[i] = source[i] == 0 ? 0f : centroids[KMeans1D.Nearest(centroids, source[i])]; // −0 (a masked negative weight) becomes +0
        return (bytes, centroids, n);
    }

    /// <summary>The clustered weights a model's metadata lists, with their index widths.</summary>
    public static Dictionary<string, int> ReadBits(Model model)
    {
        var result = new Dictionary<string, int>();
        var text = model.Metadata.FirstOrDefault(kv => kv.Key == BitsKey).Value ?? "";
        foreach (var entry in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var i = entry.LastIndexOf(':');
            if (i > 0 && int.TryParse(entry[(i + 1)..], out var b)) result[entry[..i]] = b;
        }
        return result;
    }
}
