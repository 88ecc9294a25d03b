namespace Shrink.Data;

/// <summary>A training set and its test set.</summary>
public sealed record DatasetPair(Dataset Train, Dataset Test);
