using Shrink.Techniques;

namespace Shrink.Passes.Factorization;

/// <summary>One factorized layer: the rank kept and the full rank of its weight matrix.</summary>
public sealed record LayerRank(string Layer, int Rank, int FullRank);

/// <summary>Artifact <c>ranks</c> (version 1): the rank kept for each layer a low-rank factorization rewrote, in graph order.</summary>
public sealed record Ranks(IReadOnlyList<LayerRank> Layers) : IArtifact
{
    public string Kind => "ranks";
    public int Version => 1;
}
