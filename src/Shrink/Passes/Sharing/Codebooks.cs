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
}
