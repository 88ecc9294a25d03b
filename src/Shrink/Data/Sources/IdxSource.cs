namespace Shrink.Data.Sources;

/// <summary>
/// Fashion-MNIST or MNIST IDX files (or the subset embedded in Shrink) as a data source: one float32 input,
/// <c>image</c>, of 1×rows×cols in [0, 1], and 10 class labels. The files are small (47 MB for the largest), so the
/// images are held in memory as <see cref="FashionMnist"/> reads them.
/// </summary>
public sealed class IdxSource : IDataSource
{
    private readonly InMemorySource _inner;

    /// <summary>Wraps a data set read from IDX files.</summary>
    internal IdxSource(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        Data = data;
        _inner = InMemorySource.From(data);
        Name = data.Source;
    }

    /// <summary>
    /// The training and test splits of Fashion-MNIST or MNIST, found as <see cref="FashionMnist.Load(string?)"/> finds
    /// them (<paramref name="directory"/>, <c>embedded</c>, or null: <c>SHRINK_DATA</c>, Debian's directory, the embedded subset).
    /// </summary>
    /// <exception cref="DataException">The files are missing or corrupt; the message says where it looked.</exception>
    public static DataSplits Load(string? directory = null) => FashionMnist.Load(directory);

    /// <summary>The images and labels as read.</summary>
    internal Dataset Data { get; }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Count => _inner.Count;

    /// <inheritdoc/>
    public IReadOnlyList<DataInput> Inputs => _inner.Inputs;

    /// <inheritdoc/>
    public int? ClassCount => _inner.ClassCount;

    /// <inheritdoc/>
    public IReadOnlyList<string>? ClassNames => _inner.ClassNames;

    /// <inheritdoc/>
    public DataBatch Read(int[] samples, int epoch = 0) => _inner.Read(samples, epoch);

    /// <inheritdoc/>
    public override string ToString() => Name;
}
