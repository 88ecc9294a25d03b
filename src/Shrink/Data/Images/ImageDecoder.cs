using System.Buffers;
using SkiaSharp;

namespace Shrink.Data.Images;

/// <summary>
/// An image decoded to 8-bit RGBA, unpremultiplied, without colour management or EXIF rotation (as PIL's
/// <c>Image.open(f).convert("RGB")</c>, which torchvision's <c>ImageFolder</c> reads with). Decoded pixels are rented from
/// <see cref="ArrayPool{T}"/> (<c>pooled</c>); <see cref="Dispose"/> returns them.
/// </summary>
internal sealed class DecodedImage(int width, int height, byte[] rgba, bool pooled = true) : IDisposable
{
    private byte[]? _rgba = rgba;

    public int Width { get; } = width;

    public int Height { get; } = height;

    /// <summary>Row-major RGBA bytes, <see cref="Width"/>·<see cref="Height"/>·4 of them.</summary>
    public ReadOnlySpan<byte> Rgba => (_rgba ?? throw new ObjectDisposedException(nameof(DecodedImage))).AsSpan(0, Width * Height * 4);

    public void Dispose()
    {
        if (_rgba is { } a && pooled) ArrayPool<byte>.Shared.Return(a);
        _rgba = null;
    }
}

/// <summary>Decodes PNG, JPEG, WebP, BMP and GIF files with SkiaSharp; an unreadable file is a <see cref="DataException"/> naming it.</summary>
internal static class ImageDecoder
{
    /// <summary>The largest image decoded (64 megapixels: 256 MiB of RGBA); a header declaring more is refused before decoding.</summary>
    public const long MaxPixels = 64L << 20;

    /// <summary>File extensions read as images (lower case, with the dot), as torchvision's <c>IMG_EXTENSIONS</c> less the ones Skia cannot decode.</summary>
    public static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"];

    /// <summary>Whether <paramref name="path"/> has an image extension.</summary>
    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>Reads and decodes the image at <paramref name="path"/>.</summary>
    public static DecodedImage Decode(string path) => Decode(ReadFile(path), path);

    /// <summary>Decodes <paramref name="bytes"/>; <paramref name="path"/> names the image in errors.</summary>
    public static DecodedImage Decode(byte[] bytes, string path)
    {
        using var codec = Open(bytes, path);
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var pixels = ArrayPool<byte>.Shared.Rent(info.BytesSize);
        var result = codec.GetPixels(info, pixels);
        if (result != SKCodecResult.Success)
        {
            ArrayPool<byte>.Shared.Return(pixels);
            throw Bad(path, Describe(result));
        }
        return new DecodedImage(info.Width, info.Height, pixels);
    }

    /// <summary>The width and height the header of <paramref name="path"/> declares.</summary>
    public static (int Width, int Height) Size(string path)
    {
        using var codec = Open(ReadFile(path), path);
        return (codec.Info.Width, codec.Info.Height);
    }

    /// <summary>
    /// Null when the whole image decodes, else why not. JPEG and WebP are decoded at ⅛ scale, which still reads every
    /// coded byte (a truncated or corrupt file fails the same way) at a fraction of the cost.
    /// </summary>
    public static string? Check(string path)
    {
        try
        {
            using var codec = Open(ReadFile(path), path);
            var scaled = codec.GetScaledDimensions(0.125f);
            var result = DecodeInto(codec, scaled.Width, scaled.Height);
            if (result == SKCodecResult.InvalidScale) result = DecodeInto(codec, codec.Info.Width, codec.Info.Height);
            return result == SKCodecResult.Success ? null : Describe(result);
        }
        catch (DataException e)
        {
            return e.Message;
        }
    }

    private static SKCodecResult DecodeInto(SKCodec codec, int width, int height)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var pixels = ArrayPool<byte>.Shared.Rent(info.BytesSize);
        try { return codec.GetPixels(info, pixels); }
        finally { ArrayPool<byte>.Shared.Return(pixels); }
    }

    private static SKCodec Open(byte[] bytes, string path)
    {
        using var data = SKData.CreateCopy(bytes);
        var codec = SKCodec.Create(data) ?? throw Bad(path, "it is not a PNG, JPEG, WebP, BMP or GIF image, or its header is corrupt");
        if (codec.Info.Width < 1 || codec.Info.Height < 1 || (long)codec.Info.Width * codec.Info.Height > MaxPixels)
        {
            codec.Dispose();
            throw Bad(path, $"its header declares {codec.Info.Width}×{codec.Info.Height} pixels; Shrink decodes images of 1 to {MaxPixels >> 20} megapixels");
        }
        return codec;
    }

    private static byte[] ReadFile(string path)
    {
        try
        {
            return DataFiles.ReadAllBytes(path, "image");
        }
        catch (IOException e)
        {
            throw new DataException($"image '{Text.Message.Name(path, 200)}' cannot be read ({Text.Message.OneLine(e.Message, 120)}); check the file and the disk", e);
        }
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput => "it is truncated or corrupt",
        SKCodecResult.InvalidInput => "it is corrupt",
        _ => $"the decoder failed ({result})",
    };

    /// <summary>The one-line refusal of an image that cannot be decoded.</summary>
    public static DataException Bad(string path, string why) =>
        new(Text.OptionText.Of($"image '{Text.Message.Name(path, 200)}' cannot be decoded: {why}; remove or replace it, or skip and count unreadable images with {SkipBad}"));

    /// <summary>The option that skips unreadable images, as messages name it.</summary>
    private static readonly Text.OptionName SkipBad = Text.OptionName.Of(nameof(DataOptions.SkipBad), "the skip-bad data option");
}
