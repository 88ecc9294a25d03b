using Shrink.Ir;
using Shrink.Techniques;

namespace Shrink.Passes.Sharing;

/// <summary>One clustered weight: its index width, its shared values (the codebook, ascending), non-zeros and elements.</summary>
public sealed record Codebook(string Weight, int Bits, IReadOnlyList<float> Values, long NonZero, long Elements);

/// <summary>
/// Artifact <c>codebooks</c> (version 1): the codebook of every weight a model's <see cref="ClusterPass.BitsKey"/>
/// metadata lists, read from the weights themselves (the distinct non-zero values), so that it also holds the
/// centroids as fine-tuning moved them.
/// </summary>
public sealed record Codebooks(IReadOnlyList<Codebook> Weights) : IArtifact
{
    public string Kind => "codebooks";
    public int Version => 1;

    /// <summary>The codebooks of a clustered model, in the order its metadata lists the weights.</summary>
    public static Codebooks From(Model model) => new(ClusterPass.ReadBits(model).Select(kv =>
    {
        var t = model.Graph.FindInitializer(kv.Key)!.Const!.AsFloats().ToArray();
        var values = t.Where(v => v != 0).Distinct().Order().ToList();
        return new Codebook(kv.Key, kv.Value, values, t.LongCount(v => v != 0), t.Length);
    }).ToList());
}
