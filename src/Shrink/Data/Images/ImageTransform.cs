using System.Buffers;

namespace Shrink.Data.Images;

/// <summary>
/// One decoded image to one sample, as torchvision's <c>Resize(shorter side) → CenterCrop or RandomCrop → ToTensor →
/// Normalize(mean, std)</c> (with <c>Grayscale</c> first for one channel): resized with <see cref="ResampleTaps"/> (only the
/// cropped pixels are computed), scaled to [0, 1], normalised, written CHW or HWC. Arithmetic is float32; a pixel
/// that no resize touches is exactly byte / 255, as <see cref="IdxReader"/> reads it.
/// </summary>
internal static class ImageTransform
{
    /// <summary>Luma weights of ITU-R BT.601, as PIL's <c>convert("L")</c>.</summary>
    private const float R = 0.299f, G = 0.587f, B = 0.114f;

    /// <summary>The size of <paramref name="width"/>×<paramref name="height"/> after its shorter side is resized (torchvision: the longer side truncated).</summary>
    public static (int Width, int Height) Resized(int width, int height, ImageSettings s)
    {
        var shorter = s.Resize ?? Cover(width, height, s.Width, s.Height);
        return width <= height ? (shorter, Math.Max(1, (int)((long)shorter * height / width))) : (Math.Max(1, (int)((long)shorter * width / height)), shorter);
    }

    /// <summary>The smallest shorter side whose resize covers a <paramref name="cropWidth"/>×<paramref name="cropHeight"/> crop.</summary>
    private static int Cover(int width, int height, int cropWidth, int cropHeight)
    {
        var (along, across) = width <= height ? (cropWidth, cropHeight) : (cropHeight, cropWidth);
        var (shortSide, longSide) = width <= height ? (width, height) : (height, width);
        var side = Math.Max(along, (int)Math.Ceiling((double)across * shortSide / longSide));
        while ((long)side * longSide / shortSide < across) side++;
        return side;
    }

    /// <summary>
    /// Writes the sample of <paramref name="image"/> into <paramref name="output"/> (its <see cref="ImageSettings.SampleShape"/>);
    /// <paramref name="random"/> places a random crop, null the centre one.
    /// </summary>
    public static void Apply(DecodedImage image, ImageSettings s, Span<float> output, Sources.SampleRandom? random)
    {
        var (rw, rh) = Resized(image.Width, image.Height, s);
        var (top, left) = random is { } r
            ? (r.Below(rh - s.Height + 1), r.Below(rw - s.Width + 1))
            : ((int)Math.Round((rh - s.Height) / 2.0), (int)Math.Round((rw - s.Width) / 2.0));
        var rows = ResampleTaps.For(image.Height, rh, top, s.Height);
        var cols = ResampleTaps.For(image.Width, rw, left, s.Width);
        var (first, count) = (rows.First, rows.End - rows.First);
        var inter = ArrayPool<float>.Shared.Rent(count * s.Width * s.Channels);
        try
        {
            Horizontal(image, cols, first, count, s.Channels, inter);
            Vertical(inter, rows, first, s, output);
        }
        finally { ArrayPool<float>.Shared.Return(inter); }
    }

    /// <summary>Source rows [first, first + count), resized along x: inter[row, x, c] in [0, 255].</summary>
    private static void Horizontal(DecodedImage image, ResampleTaps cols, int first, int count, int channels, float[] inter)
    {
        var rgba = image.Rgba;
        var outWidth = cols.Start.Length;
        for (var y = 0; y < count; y++)
        {
            var row = rgba.Slice((first + y) * image.Width * 4, image.Width * 4);
            for (var x = 0; x < outWidth; x++)
            {
                float r = 0, g = 0, b = 0;
                var (start, n, w) = (cols.Start[x], cols.Count[x], x * cols.Stride);
                for (var k = 0; k < n; k++)
                {
                    var p = (start + k) * 4;
                    var weight = cols.Weights[w + k];
                    if (channels == 1) r += weight * Luma(row[p], row[p + 1], row[p + 2]);
                    else (r, g, b) = (r + weight * row[p], g + weight * row[p + 1], b + weight * row[p + 2]);
                }
                var o = (y * outWidth + x) * channels;
                inter[o] = r;
                if (channels == 3) (inter[o + 1], inter[o + 2]) = (g, b);
            }
        }
    }

    /// <summary>The resize along y, then scale, normalisation and layout into <paramref name="output"/>.</summary>
    private static void Vertical(float[] inter, ResampleTaps rows, int first, ImageSettings s, Span<float> output)
    {
        var (c, w, h) = (s.Channels, s.Width, s.Height);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                for (var ch = 0; ch < c; ch++)
                {
                    float v = 0;
                    var (start, n, t) = (rows.Start[y] - first, rows.Count[y], y * rows.Stride);
                    for (var k = 0; k < n; k++) v += rows.Weights[t + k] * inter[((start + k) * w + x) * c + ch];
                    var o = s.Layout == ImageLayout.Nchw ? (ch * h + y) * w + x : (y * w + x) * c + ch;
                    output[o] = (v / 255f - s.Mean[ch]) / s.Std[ch];
                }
    }

    /// <summary>The gray level of an RGB pixel; a gray pixel is itself, exactly.</summary>
    private static float Luma(byte r, byte g, byte b) => r == g && g == b ? r : R * r + G * g + B * b;
}
