namespace Shrink.Data;

/// <summary>A training set and its test set, as the IDX reader holds them in memory.</summary>
internal sealed record DatasetPair(Dataset Train, Dataset Test);
