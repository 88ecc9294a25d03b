namespace Shrink.Data;

/// <summary>What every data source can do, built on <see cref="IDataSource.Read"/>: batches in order, the first N samples, a subset, a seeded split.</summary>
public static class DataSource
{
    /// <summary>The samples in order, in batches of <paramref name="batchSize"/> (the last may be smaller).</summary>
    public static IEnumerable<DataBatch> Batches(this IDataSource source, int batchSize, int epoch = 0)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (batchSize < 1) throw OptionsException.For("BatchSize", $"batch size {batchSize} is out of range; use 1 or more");
        for (var start = 0; start < source.Count; start += batchSize)
            yield return source.Read(Enumerable.Range(start, Math.Min(batchSize, source.Count - start)).ToArray(), epoch);
    }

    /// <summary>The first <paramref name="count"/> samples (all of them when there are fewer).</summary>
    public static IDataSource Take(this IDataSource source, int count)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return count >= source.Count ? source : new SubsetSource(source, Enumerable.Range(0, count).ToArray(), $"{source.Name}, first {count}");
    }

    /// <summary>The samples at <paramref name="indices"/>, in that order.</summary>
    public static IDataSource Subset(this IDataSource source, int[] indices, string name)
    {
        ArgumentNullException.ThrowIfNull(source);
        DataChecks.Indices(indices, source.Count, source.Name);
        return new SubsetSource(source, indices, name);
    }

    /// <summary>
    /// A seeded random split: <paramref name="fraction"/> of the samples (rounded, at least one each side)
    /// become the second part, the rest the first, both in their original order. The same seed always
    /// gives the same split.
    /// </summary>
    public static (IDataSource First, IDataSource Second) Split(this IDataSource source, double fraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!(fraction > 0 && fraction < 1)) throw OptionsException.For("SplitFraction", $"must be between 0 and 1 (both excluded), got {fraction}; e.g. 0.1 holds out a tenth");
        if (source.Count < 2) throw new DataException($"{source.Name} has {source.Count} sample(s); a split needs at least 2");
        var second = Math.Clamp((int)Math.Round(source.Count * fraction), 1, source.Count - 1);
        var order = Enumerable.Range(0, source.Count).ToArray();
        new Random(seed).Shuffle(order);
        var held = order.Take(second).Order().ToArray();
        var kept = order.Skip(second).Order().ToArray();
        return (new SubsetSource(source, kept, $"{source.Name}, {kept.Length} of {source.Count} (split seed {seed})"),
                new SubsetSource(source, held, $"{source.Name}, {held.Length} of {source.Count} held out (split seed {seed})"));
    }

    /// <summary>One line: the name, the count, the inputs and the classes.</summary>
    public static string Describe(this IDataSource source) =>
        $"{source.Name}: {source.Count} samples of {string.Join(", ", source.Inputs)}" + (source.ClassCount is { } c ? $", {c} classes" : ", no labels");

    private sealed class SubsetSource(IDataSource inner, int[] indices, string name) : IDataSource
    {
        public string Name { get; } = name;
        public int Count => indices.Length;
        public IReadOnlyList<DataInput> Inputs => inner.Inputs;
        public int? ClassCount => inner.ClassCount;
        public IReadOnlyList<string>? ClassNames => inner.ClassNames;
        public bool Augments => inner.Augments;

        public DataBatch Read(int[] samples, int epoch = 0)
        {
            DataChecks.Indices(samples, indices.Length, Name);
            return inner.Read(samples.Select(s => indices[s]).ToArray(), epoch);
        }

        public override string ToString() => this.Describe();
    }
}

/// <summary>Checks shared by the data sources.</summary>
internal static class DataChecks
{
    /// <summary>Every index in [0, count).</summary>
    public static void Indices(int[] samples, int count, string source)
    {
        ArgumentNullException.ThrowIfNull(samples);
        foreach (var s in samples)
            if ((uint)s >= (uint)count) throw new ArgumentOutOfRangeException(nameof(samples), $"sample {s} is outside the {count} samples of {source}");
    }

    /// <summary>N labels, each in [0, classCount).</summary>
    public static void Labels(int[] labels, int classCount, long count, string source)
    {
        if (classCount < 1) throw new DataException($"{source}: {classCount} classes; labelled data needs at least 1 class");
        if (labels.Length != count) throw new DataException($"{source}: {labels.Length} labels for {count} samples; give one label per sample");
        for (var i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classCount)
                throw new DataException($"{source}: label {labels[i]} of sample {i} is outside [0, {classCount}); the labels do not match the inputs or the file is corrupt");
    }
}
