using System.Globalization;
using Shrink.Ir;

namespace Shrink.Data.Images;

/// <summary>
/// Writes a labelled data set of 1-channel images (Fashion-MNIST, MNIST) as an image folder that <see cref="Sources.ImageFolderSource"/>
/// and torchvision's <c>ImageFolder</c> read: <c>DIR/SPLIT/LABEL-NAME/NNNNN.png</c>, the label first in each class folder's
/// name so that the folders' ordinal order is the label order (class index = label). Images are resized with the same
/// bilinear filter the reader uses (<see cref="ResampleTaps"/>), rounded to bytes, gray replicated to RGB for 3 channels.
/// A class folder is made only for a class that has images (an empty one is refused by the reader).
/// </summary>
public static class ImageFolderWriter
{
    /// <summary>
    /// Writes <paramref name="data"/> (labelled, one float input of 1-channel images in [0, 1]) into
    /// <paramref name="directory"/>/<paramref name="split"/> at <paramref name="size"/>×<paramref name="size"/> pixels of
    /// <paramref name="channels"/> (1 or 3), the first <paramref name="limit"/> samples or all; returns the files written.
    /// The source is read a chunk at a time, so it need not fit in memory.
    /// </summary>
    /// <exception cref="ArgumentException">A size below 1, channels other than 1 or 3, data that is not labelled 1×H×W images, or too few class names.</exception>
    public static int Write(IDataSource data, string directory, string split, int size, int channels, IReadOnlyList<string> classNames, ImageFormat format = ImageFormat.Png, int? limit = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "1 or 3 channels");
        if (data.Inputs is not [{ ElementType: DataType.Float, SampleShape: [1, var rows, var cols] }])
            throw new ArgumentException($"one float32 input of [1, H, W] images, not {string.Join(", ", data.Inputs)}", nameof(data));
        if (data.ClassCount is not { } classes) throw new ArgumentException($"{data.Name} has no labels; an image folder's classes are its labels", nameof(data));
        if (classNames.Count < classes) throw new ArgumentException($"{classNames.Count} class names for {classes} classes", nameof(classNames));
        var settings = new ImageSettings(1, size, size, size, ImageCrop.Center, [0f], [1f], ImageLayout.Nhwc);
        var count = Math.Min(limit ?? data.Count, data.Count);
        var folders = Enumerable.Range(0, classes).Select(c => Path.Combine(directory, split, FolderName(c, classNames[c]))).ToArray();
        var extension = format switch { ImageFormat.Png => ".png", ImageFormat.Jpeg => ".jpg", _ => ".webp" };
        var pixelsPerImage = rows * cols;
        var chunk = 0;
        foreach (var batch in data.Take(count).Batches(Math.Max(1, Math.Min(count, 1024))))
        {
            var images = (float[])batch.Inputs[0].Data;
            Parallel.For(0, batch.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
            {
                var pixels = Resize(images.AsSpan(i * pixelsPerImage, pixelsPerImage), cols, rows, settings);
                var first = chunk;
                var file = Path.Combine(folders[batch.Labels![i]], (first + i).ToString("D5", CultureInfo.InvariantCulture) + extension);
                ImageEncoder.Write(file, channels == 1 ? pixels : pixels.SelectMany(p => new[] { p, p, p }).ToArray(), size, size, channels, format);
            });
            chunk += batch.Count;
        }
        return count;
    }

    /// <summary>"0-T-shirt-top": the label, then the class name with characters that cannot be in a folder name replaced by '-'.</summary>
    public static string FolderName(int label, string name) =>
        $"{label}-{string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '_' or '.' ? c : '-'))}";

    private static byte[] Resize(ReadOnlySpan<float> image, int width, int height, ImageSettings settings)
    {
        var rgba = new byte[width * height * 4];
        for (var p = 0; p < width * height; p++)
        {
            var v = (byte)Math.Clamp(MathF.Round(image[p] * 255f), 0f, 255f);
            (rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2], rgba[4 * p + 3]) = (v, v, v, 255);
        }
        var resized = new float[settings.Height * settings.Width];
        using (var decoded = new DecodedImage(width, height, rgba, pooled: false))
            ImageTransform.Apply(decoded, settings, resized, null);
        return resized.Select(v => (byte)Math.Clamp(MathF.Round(v * 255f), 0f, 255f)).ToArray();
    }
}
