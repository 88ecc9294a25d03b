namespace Shrink.Data.Images;

/// <summary>
/// The source pixels and weights of each output pixel along one axis of a bilinear resize, as PIL's
/// <c>Image.resize(size, BILINEAR)</c> computes them (<c>libImaging/Resample.c</c>; torchvision's <c>antialias=True</c>):
/// output pixel o of a resize from n to m has its centre at c = (o + ½)·n/m in source coordinates; with
/// s = max(n/m, 1) the triangle filter w(k) = max(0, 1 − |k + ½ − c| / s) is taken over the source pixels k within
/// s of c and normalised to sum to one. Enlarging (s = 1) this is bilinear interpolation between pixel centres, edges
/// clamped; shrinking, the filter widens by the scale, so every source pixel counts (no aliasing).
/// </summary>
internal sealed class ResampleTaps
{
    private ResampleTaps(int[] start, int[] count, float[] weights, int stride)
        => (Start, Count, Weights, Stride) = (start, count, weights, stride);

    /// <summary>The first source pixel of each output pixel.</summary>
    public int[] Start { get; }

    /// <summary>How many source pixels each output pixel reads.</summary>
    public int[] Count { get; }

    /// <summary>The weights, <see cref="Stride"/> per output pixel.</summary>
    public float[] Weights { get; }

    /// <summary>Weights per output pixel in <see cref="Weights"/>.</summary>
    public int Stride { get; }

    /// <summary>The lowest source pixel any output pixel reads.</summary>
    public int First => Start.Length == 0 ? 0 : Start.Min();

    /// <summary>One past the highest source pixel any output pixel reads.</summary>
    public int End => Start.Length == 0 ? 0 : Start.Zip(Count, (s, c) => s + c).Max();

    /// <summary>
    /// The taps of output pixels [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) of a
    /// resize from <paramref name="inSize"/> to <paramref name="outSize"/> pixels (a crop of the resized axis).
    /// </summary>
    public static ResampleTaps For(int inSize, int outSize, int offset, int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outSize, 1);
        if (offset < 0 || length < 0 || offset + length > outSize) throw new ArgumentOutOfRangeException(nameof(length), $"pixels [{offset}, {offset + length}) are outside the {outSize} of the axis");
        double scale = (double)inSize / outSize, filterScale = Math.Max(scale, 1.0), support = filterScale;
        var stride = (int)Math.Ceiling(support) * 2 + 1;
        var (start, count, weights) = (new int[length], new int[length], new float[length * stride]);
        var w = new double[stride];
        for (var i = 0; i < length; i++)
        {
            var center = (offset + i + 0.5) * scale;
            var min = Math.Max((int)(center - support + 0.5), 0);
            var max = Math.Min((int)(center + support + 0.5), inSize) - min;
            double sum = 0;
            for (var k = 0; k < max; k++) sum += w[k] = Math.Max(0.0, 1.0 - Math.Abs((k + min - center + 0.5) / filterScale));
            for (var k = 0; k < max; k++) weights[i * stride + k] = (float)(sum == 0 ? 0 : w[k] / sum);
            (start[i], count[i]) = (min, max);
        }
        return new ResampleTaps(start, count, weights, stride);
    }
}
