namespace Shrink.Data;

/// <summary>
/// A labelled image data set held in memory: <see cref="Images"/> is N×C×H×W flattened (NCHW),
/// float32; <see cref="Labels"/> holds one class index in [0, <see cref="ClassCount"/>) per sample. The IDX
/// reader's in-memory form; everything else reads data through <see cref="IDataSource"/> (<see cref="InMemorySource.From"/>).
/// </summary>
internal sealed class Dataset
{
    /// <summary>Creates a data set; the arrays are used as given, not copied.</summary>
    /// <param name="images">N samples of <paramref name="sampleShape"/> each, NCHW, flattened.</param>
    /// <param name="labels">N class indices.</param>
    /// <param name="sampleShape">Shape of one sample, e.g. {1, 28, 28}.</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="source">Where the data came from, for printing.</param>
    /// <exception cref="ArgumentException">The lengths or shapes disagree.</exception>
    /// <exception cref="DataException">A label is outside [0, classCount).</exception>
    public Dataset(float[] images, int[] labels, int[] sampleShape, int classCount, string source)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(sampleShape);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        if (sampleShape.Length == 0 || sampleShape.Any(d => d <= 0))
            throw new ArgumentException($"sample shape [{string.Join(", ", sampleShape)}] must have positive dimensions", nameof(sampleShape));
        SampleSize = sampleShape.Aggregate(1, (a, d) => checked(a * d));
        if ((long)labels.Length * SampleSize != images.Length)
            throw new ArgumentException($"{images.Length} image values do not make {labels.Length} samples of {SampleSize}", nameof(images));
        CheckLabels(labels, classCount, source);
        (Images, Labels, SampleShape, ClassCount, Source) = (images, labels, sampleShape, classCount, source);
    }

    /// <summary>All samples, NCHW, flattened.</summary>
    public float[] Images { get; }

    /// <summary>The class index of each sample.</summary>
    public int[] Labels { get; }

    /// <summary>Number of samples.</summary>
    public int Count => Labels.Length;

    /// <summary>Shape of one sample (C, H, W).</summary>
    public int[] SampleShape { get; }

    /// <summary>Number of values in one sample (C·H·W).</summary>
    public int SampleSize { get; }

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>Where the data came from, for printing.</summary>
    public string Source { get; }

    /// <summary>The first <paramref name="limit"/> samples as a copy, or this set itself if it has no more.</summary>
    public Dataset Take(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        if (limit >= Count)
            return this;
        var (x, y) = Batch(0, limit);
        return new Dataset(x, y, SampleShape, ClassCount, $"{Source}, first {limit}");
    }

    /// <summary>Copies samples [start, start+count) into <paramref name="x"/> (NCHW) and <paramref name="y"/>.</summary>
    public void CopyBatch(int start, int count, Span<float> x, Span<int> y)
    {
        CheckRange(start, count);
        if (x.Length < count * SampleSize || y.Length < count)
            throw new ArgumentException($"batch buffers too small for {count} samples: need {count * SampleSize} values and {count} labels");
        Images.AsSpan(start * SampleSize, count * SampleSize).CopyTo(x);
        Labels.AsSpan(start, count).CopyTo(y);
    }

    /// <summary>Samples [start, start+count) as new arrays: x is count×C×H×W, y is count labels.</summary>
    public (float[] X, int[] Y) Batch(int start, int count)
    {
        CheckRange(start, count);
        var x = new float[count * SampleSize];
        var y = new int[count];
        CopyBatch(start, count, x, y);
        return (x, y);
    }

    /// <summary>How many samples each class has.</summary>
    public int[] CountPerClass()
    {
        var counts = new int[ClassCount];
        foreach (var label in Labels)
            counts[label]++;
        return counts;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Count} samples of [{string.Join(", ", SampleShape)}], {ClassCount} classes ({Source})";

    private void CheckRange(int start, int count)
    {
        if (start < 0 || count < 0 || start > Count - count)
            throw new ArgumentOutOfRangeException(nameof(start), $"samples [{start}, {start + (long)count}) are outside the {Count} samples of {Source}");
    }

    private static void CheckLabels(int[] labels, int classCount, string source)
    {
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount)
                throw new DataException($"{source}: label {labels[i]} of sample {i} is outside [0, {classCount}); the labels do not match the images or the file is corrupt");
        }
    }
}
