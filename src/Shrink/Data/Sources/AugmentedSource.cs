using Shrink.Runtime;

namespace Shrink.Data.Sources;

/// <summary>
/// Random augmentation over any source of images (one float32 input of [C, H, W] or [H, W, C]: an image folder, IDX
/// files, a NumPy array): torchvision's <c>RandomCrop(size, padding)</c> — pad each side with a fill value, crop back to
/// the image size at a random place — then <c>RandomHorizontalFlip()</c>. The random choices of a sample come from
/// (<see cref="DataOptions.Seed"/>, epoch, sample index) alone (<see cref="SampleRandom"/>): the same epoch always
/// reads the same, another epoch differently, so a resumed run reads exactly what an uninterrupted one would.
/// </summary>
public sealed class AugmentedSource : IDataSource
{
    private const ulong AugmentStream = 0x41554745_4D454E54UL;

    private readonly IDataSource _inner;
    private readonly AugmentOptions _options;
    private readonly int _seed;
    private readonly bool _channelsLast;
    private readonly float[] _fill;
    private readonly int _c, _h, _w;

    /// <summary>Augments <paramref name="inner"/>; <paramref name="layout"/> says where its channels are (null: HWC when only the last axis could be channels, else CHW).</summary>
    /// <param name="inner">The source to augment.</param>
    /// <param name="options">Padding and flip.</param>
    /// <param name="seed">The data seed.</param>
    /// <param name="layout">The sample layout, when known.</param>
    /// <param name="fill">The padding value per channel (one value, or one per channel; null: 0), e.g. black after normalisation, −mean/std.</param>
    /// <exception cref="OptionsException">The source is not image-shaped float data, or the padding is negative.</exception>
    public AugmentedSource(IDataSource inner, AugmentOptions options, int seed, ImageLayout? layout = null, float[]? fill = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(options);
        if (inner.Inputs is not [{ ElementType: Ir.DataType.Float, SampleShape: { Length: 3 } shape }])
            throw OptionsException.For(nameof(DataOptions.Augment), $"applies to images (one float32 input of [C, H, W] or [H, W, C]); {inner.Name} gives {string.Join(", ", inner.Inputs)}; remove it");
        if (options.Padding < 0) throw OptionsException.For(nameof(AugmentOptions.Padding), $"must be 0 or more, got {options.Padding}");
        _channelsLast = layout == ImageLayout.Nhwc || layout is null && shape[2] is 1 or 3 or 4 && shape[0] is not (1 or 3 or 4);
        (_c, _h, _w) = _channelsLast ? (shape[2], shape[0], shape[1]) : (shape[0], shape[1], shape[2]);
        if (fill is not null && fill.Length != 1 && fill.Length != _c) throw new ArgumentException($"{fill.Length} fill values for {_c} channels", nameof(fill));
        _fill = fill is null ? new float[_c] : fill.Length == _c ? fill.ToArray() : Enumerable.Repeat(fill[0], _c).ToArray();
        (_inner, _options, _seed) = (inner, options, seed);
        Name = $"{inner.Name}, augmented (padding {options.Padding}{(options.Flip ? ", flip" : "")}, seed {seed})";
    }

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

    /// <summary>True when padding or flipping changes anything.</summary>
    public bool Augments => _options.Padding > 0 || _options.Flip || _inner.Augments;

    /// <inheritdoc/>
    public DataBatch Read(int[] samples, int epoch = 0)
    {
        var batch = _inner.Read(samples, epoch);
        var source = (float[])batch.Inputs[0].Data;
        var data = new float[source.Length];
        var size = _c * _h * _w;
        for (var i = 0; i < samples.Length; i++)
            Augment(source.AsSpan(i * size, size), data.AsSpan(i * size, size), new SampleRandom(_seed, epoch, samples[i], AugmentStream));
        return new DataBatch([new HostTensor(batch.Inputs[0].Name, data, batch.Inputs[0].Shape)], batch.Labels);
    }

    /// <summary>out[y, x] = in[y + dy − p, x' + dx − p] (the fill outside), x' = W − 1 − x when flipped, else x.</summary>
    private void Augment(ReadOnlySpan<float> input, Span<float> output, SampleRandom random)
    {
        var p = _options.Padding;
        var (dy, dx) = p > 0 ? (random.Below(2 * p + 1) - p, random.Below(2 * p + 1) - p) : (0, 0);
        var flip = _options.Flip && random.Coin();
        for (var y = 0; y < _h; y++)
            for (var x = 0; x < _w; x++)
            {
                var (sy, sx) = (y + dy, (flip ? _w - 1 - x : x) + dx);
                var inside = sy >= 0 && sy < _h && sx >= 0 && sx < _w;
                for (var c = 0; c < _c; c++)
                    output[Index(c, y, x)] = inside ? input[Index(c, sy, sx)] : _fill[c];
            }
    }

    private int Index(int c, int y, int x) => _channelsLast ? (y * _w + x) * _c + c : (c * _h + y) * _w + x;

    /// <inheritdoc/>
    public override string ToString() => Name;
}
