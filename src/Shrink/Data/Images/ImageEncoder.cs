using System.Runtime.InteropServices;
using SkiaSharp;

namespace Shrink.Data.Images;

/// <summary>The file formats <see cref="ImageEncoder"/> writes.</summary>
public enum ImageFormat
{
    /// <summary>PNG: lossless.</summary>
    Png,

    /// <summary>JPEG: lossy, at a quality.</summary>
    Jpeg,

    /// <summary>WebP: lossy at a quality below 100, lossless at 100.</summary>
    Webp,
}

/// <summary>
/// Encodes 8-bit pixels as PNG, JPEG or WebP with SkiaSharp — what the <c>tools/</c> scripts, the benches and the tests
/// use to write image folders that <see cref="Sources.ImageFolderSource"/> reads back.
/// </summary>
public static class ImageEncoder
{
    /// <summary>
    /// The encoded bytes of a <paramref name="width"/>×<paramref name="height"/> image of <paramref name="channels"/>
    /// (1: gray, 3: RGB, 4: RGBA) bytes per pixel, row-major in <paramref name="pixels"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The pixel count, channels or quality are out of range.</exception>
    public static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, int channels, ImageFormat format, int quality = 95)
    {
        if (channels is not (1 or 3 or 4)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "1, 3 or 4 channels");
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (quality is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(quality), quality, "a quality from 0 to 100");
        if (pixels.Length != width * height * channels) throw new ArgumentException($"{pixels.Length} bytes for {width}×{height}×{channels} pixels", nameof(pixels));
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[width * height * 4];
        for (var i = 0; i < width * height; i++)
        {
            var (r, g, b, a) = channels switch
            {
                1 => (pixels[i], pixels[i], pixels[i], (byte)255),
                3 => (pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2], (byte)255),
                _ => (pixels[4 * i], pixels[4 * i + 1], pixels[4 * i + 2], pixels[4 * i + 3]),
            };
            (rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2], rgba[4 * i + 3]) = (r, g, b, a);
        }
        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            using var pixmap = new SKPixmap(info, handle.AddrOfPinnedObject(), info.RowBytes);
            using var data = (format == ImageFormat.Webp && quality == 100 ? pixmap.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 75)) : pixmap.Encode(Format(format), quality)) ?? throw new InvalidOperationException($"SkiaSharp could not encode a {width}×{height} {format} image");
            return data.ToArray();
        }
        finally { handle.Free(); }
    }

    /// <summary>Encodes as <see cref="Encode"/> does and writes the file, its folder created (a plain write: for filling a new folder).</summary>
    public static void Write(string path, ReadOnlySpan<byte> pixels, int width, int height, int channels, ImageFormat format, int quality = 95)
    {
        var bytes = Encode(pixels, width, height, channels, format, quality);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllBytes(path, bytes);
    }

    private static SKEncodedImageFormat Format(ImageFormat format) => format switch
    {
        ImageFormat.Png => SKEncodedImageFormat.Png,
        ImageFormat.Jpeg => SKEncodedImageFormat.Jpeg,
        _ => SKEncodedImageFormat.Webp,
    };
}
