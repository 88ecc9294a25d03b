using Shrink.Ir;
using Shrink.Techniques;

namespace Shrink.Passes.Sharing;

/// <summary>One clustered weight: the index width and the shared values (k-means centroids) its weights now take; zeros stay zero.</summary>
public sealed record Codebook(int Bits, float[] Centroids);

/// <summary>The <c>codebooks</c> artifact of <see cref="ClusterPass"/>: the codebook of every weight it clustered, by initializer name.</summary>
public sealed record Codebooks : IArtifact
{
    public string Kind => "codebooks";
    public int Version => 1;

    public IReadOnlyDictionary<string, Codebook> Weights { get; init; } = new Dictionary<string, Codebook>();

    /// <summary>
    /// The codebooks a clustered model's weights hold now (after centroid fine-tuning, say): for every weight its
    /// <see cref="ClusterPass.BitsKey"/> metadata lists, the distinct non-zero values in ascending order.
    /// </summary>
    public static Codebooks From(Model model) => new()
    {
        Weights = ClusterPass.ReadBits(model).ToDictionary(kv => kv.Key, kv => new Codebook(kv.Value, SharedValues(model.Graph.FindInitializer(kv.Key)!.Const!))),
    };

    /// <summary>
    /// The distinct non-zero values of a float32 weight in ascending order, read where they lie: no copy of the weight is
    /// made (a copy per layer was garbage the size of the whole model by the last layer), and one still in external data
    /// is read in pooled chunks and stays there.
    /// </summary>
    private static float[] SharedValues(Tensor weight)
    {
        var values = new HashSet<float>();
        using (var lease = weight.ReadFloats())
            foreach (var v in lease.Values)
                if (v != 0) values.Add(v);
        var result = values.ToArray();
        Array.Sort(result);
        return result;
    }
}
