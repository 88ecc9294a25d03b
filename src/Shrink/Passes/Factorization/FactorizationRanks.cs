using Shrink.Techniques;

namespace Shrink.Passes.Factorization;

/// <summary>One factorized layer: the rank kept and the full rank of its weight matrix.</summary>
public sealed record LayerRank(int Rank, int FullRank);

/// <summary>The <c>factorization-ranks</c> artifact of <see cref="LowRankPass"/>: the rank chosen for every layer it factorized, by layer name, in graph order.</summary>
public sealed record FactorizationRanks : IArtifact
{
    public string Kind => "factorization-ranks";
    public int Version => 1;

    public IReadOnlyDictionary<string, LayerRank> Layers { get; init; } = new Dictionary<string, LayerRank>();
}
