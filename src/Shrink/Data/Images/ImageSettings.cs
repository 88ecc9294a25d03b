using Shrink.Ir;

namespace Shrink.Data.Images;

/// <summary>
/// Image preprocessing with every choice made: what <see cref="ImageOptions"/> left open is taken from the model's
/// input (a rank-4 input [N, C, H, W] or [N, H, W, C] with C of 1 or 3), else the first image's size, RGB and CHW.
/// </summary>
internal sealed record ImageSettings(int Channels, int Height, int Width, int? Resize, ImageCrop Crop, float[] Mean, float[] Std, ImageLayout Layout)
{
    /// <summary>The shape of one sample in its layout.</summary>
    public int[] SampleShape => Layout == ImageLayout.Nchw ? [Channels, Height, Width] : [Height, Width, Channels];

    /// <summary>"3×32×32" (CHW) or "32×32×3" (HWC).</summary>
    public string ShapeText => string.Join("×", SampleShape);

    /// <summary>The settings as options with every property set.</summary>
    public ImageOptions ToOptions() => new() { Size = [Height, Width], Resize = Resize, Crop = Crop, Channels = Channels, Mean = Mean, Std = Std, Layout = Layout };

    /// <summary>Resolves <paramref name="given"/> against <paramref name="model"/>; <paramref name="firstImage"/> gives the size when neither has one.</summary>
    /// <exception cref="OptionsException">A property is out of range.</exception>
    public static ImageSettings Resolve(ImageOptions? given, Model? model, Func<(int Width, int Height)> firstImage)
    {
        given ??= new ImageOptions();
        var (modelChannels, modelHeight, modelWidth, modelLayout) = FromModel(model);
        var channels = given.Channels ?? modelChannels ?? 3;
        if (channels is not (1 or 3)) throw OptionsException.For(nameof(ImageOptions.Channels), $"must be 1 (grayscale) or 3 (RGB), got {channels}");
        var (height, width) = Size(given.Size, modelHeight, modelWidth, firstImage);
        if (given.Resize is { } r && r < Math.Min(height, width))
            throw OptionsException.For(nameof(ImageOptions.Resize), $"{r} is smaller than the {height}×{width} crop; resize the shorter side to at least {Math.Max(height, width)}");
        return new ImageSettings(channels, height, width, given.Resize, given.Crop,
            PerChannel(given.Mean, channels, 0f, nameof(ImageOptions.Mean)), PerChannel(given.Std, channels, 1f, nameof(ImageOptions.Std)),
            given.Layout ?? modelLayout ?? ImageLayout.Nchw);
    }

    private static (int Height, int Width) Size(int[]? size, int? modelHeight, int? modelWidth, Func<(int Width, int Height)> firstImage)
    {
        if (size is not null)
        {
            if (size.Length is not (1 or 2) || size.Any(d => d < 1))
                throw OptionsException.For(nameof(ImageOptions.Size), $"must be [height, width] or [side] of positive sizes, got [{string.Join(", ", size)}]");
            return (size[0], size[^1]);
        }
        if (modelHeight is { } h && modelWidth is { } w) return (h, w);
        var (fw, fh) = firstImage();
        return (fh, fw);
    }

    private static float[] PerChannel(float[]? values, int channels, float fallback, string property)
    {
        if (values is null) return Enumerable.Repeat(fallback, channels).ToArray();
        if (values.Length != 1 && values.Length != channels)
            throw OptionsException.For(property, $"has {values.Length} values; give one, or one per channel ({channels})");
        if (property == nameof(ImageOptions.Std) && values.Any(v => !(v > 0) || float.IsInfinity(v)))
            throw OptionsException.For(property, $"must be positive and finite, got [{string.Join(", ", values)}]");
        if (values.Any(v => !float.IsFinite(v))) throw OptionsException.For(property, $"must be finite, got [{string.Join(", ", values)}]");
        return values.Length == channels ? values.ToArray() : Enumerable.Repeat(values[0], channels).ToArray();
    }

    /// <summary>Channels, height, width and layout of the model's one image input, each null where the model does not fix it.</summary>
    private static (int? Channels, int? Height, int? Width, ImageLayout? Layout) FromModel(Model? model)
    {
        if (model is null || DataBinding.ModelInputs(model) is not [{ Shape: { Rank: 4 } shape }]) return (null, null, null, null);
        int? Dim(int i) => shape[i].Value is { } v && v > 0 ? (int)v : null;
        if (Dim(1) is 1 or 3) return (Dim(1), Dim(2), Dim(3), ImageLayout.Nchw);
        if (Dim(3) is 1 or 3) return (Dim(3), Dim(1), Dim(2), ImageLayout.Nhwc);
        return (null, null, null, null);
    }
}
