using Shrink.Data;
using Shrink.Data.Sources;
using Xunit;

namespace Shrink.Tests.Data.Images;

/// <summary>
/// Image preprocessing checked against hand computations on tiny PNGs (lossless, so the decoded bytes are the written
/// ones): bilinear resize up and down (PIL's triangle filter), centre crop, normalisation, CHW vs HWC, grayscale.
/// Tolerance 1e-6 (float32 sums of a few products of values below 1).
/// </summary>
public class ImagePreprocessingTests
{
    private const float Tolerance = 1e-6f;

    /// <summary>One image, class "a", opened with <paramref name="image"/>.</summary>
    private static float[] Read(TempDirectory dir, byte[] pixels, int width, int height, int channels, ImageOptions image)
    {
        SourceFiles.Png(Path.Combine(dir.Path, "a", "0.png"), pixels, width, height, channels);
        return SourceFiles.All(ImageFolderSource.Open(dir.Path, new DataOptions { Image = image }));
    }

    [Fact]
    public void NoResize_IsBytesOver255_InChwOrder()
    {
        using var dir = new TempDirectory();
        var pixels = SourceFiles.Pixels(3, 2, 3, (y, x, c) => 10 * y + x + 100 * c);

        var x = Read(dir, pixels, 3, 2, 3, new ImageOptions());

        var expected = new float[18];
        for (var c = 0; c < 3; c++)
            for (var y = 0; y < 2; y++)
                for (var xx = 0; xx < 3; xx++)
                    expected[(c * 2 + y) * 3 + xx] = (10 * y + xx + 100 * c) / 255f;
        Assert.Equal(expected, x);
    }

    [Fact]
    public void Shrinking4To2_AveragesWithTheWidenedTriangle()
    {
        using var dir = new TempDirectory();
        int V(int y, int x) => 16 * y + 4 * x + (x == 3 ? 50 : 0);
        var pixels = SourceFiles.Pixels(4, 4, 1, (y, x, _) => V(y, x));

        var x = Read(dir, pixels, 4, 4, 1, new ImageOptions { Size = [2], Resize = 2, Channels = 1 });

        // scale 2: output 0 centres at 1.0 over pixels 0..2 with weights (0.75, 0.75, 0.25)/1.75, output 1 at 3.0 over 1..3 with (0.25, 0.75, 0.75)/1.75
        double[][] w = [[0.75 / 1.75, 0.75 / 1.75, 0.25 / 1.75, 0], [0, 0.25 / 1.75, 0.75 / 1.75, 0.75 / 1.75]];
        for (var oy = 0; oy < 2; oy++)
            for (var ox = 0; ox < 2; ox++)
            {
                double v = 0;
                for (var i = 0; i < 4; i++)
                    for (var j = 0; j < 4; j++) v += w[oy][i] * w[ox][j] * V(i, j);
                Assert.InRange(x[oy * 2 + ox], v / 255 - Tolerance, v / 255 + Tolerance);
            }
    }

    [Fact]
    public void Enlarging2To4_InterpolatesBetweenPixelCentres_EdgesClamped()
    {
        using var dir = new TempDirectory();
        int[,] v = { { 0, 100 }, { 200, 40 } };
        var pixels = SourceFiles.Pixels(2, 2, 1, (y, x, _) => v[y, x]);

        var x = Read(dir, pixels, 2, 2, 1, new ImageOptions { Size = [4], Resize = 4, Channels = 1 });

        // output o centres at (o + 0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25 in pixel coordinates: weights of pixel 0 are 1, 0.75, 0.25, 0
        double[] w0 = [1, 0.75, 0.25, 0];
        for (var oy = 0; oy < 4; oy++)
            for (var ox = 0; ox < 4; ox++)
            {
                var e = w0[oy] * (w0[ox] * v[0, 0] + (1 - w0[ox]) * v[0, 1]) + (1 - w0[oy]) * (w0[ox] * v[1, 0] + (1 - w0[ox]) * v[1, 1]);
                Assert.InRange(x[oy * 4 + ox], e / 255 - Tolerance, e / 255 + Tolerance);
            }
    }

    [Fact]
    public void CentreCrop_ThenNormalise_InHwcOrder()
    {
        using var dir = new TempDirectory();
        var pixels = SourceFiles.Pixels(6, 4, 3, (y, x, c) => 40 * y + 7 * x + 3 * c);
        float[] mean = [0.5f, 0.25f, 0f], std = [0.5f, 0.25f, 2f];

        var x = Read(dir, pixels, 6, 4, 3, new ImageOptions { Size = [4, 4], Mean = mean, Std = std, Layout = ImageLayout.Nhwc });

        // 6×4 already covers 4×4: no resize; the crop starts at column round((6 − 4) / 2) = 1
        for (var y = 0; y < 4; y++)
            for (var xx = 0; xx < 4; xx++)
                for (var c = 0; c < 3; c++)
                    Assert.Equal(((40 * y + 7 * (xx + 1) + 3 * c) / 255f - mean[c]) / std[c], x[(y * 4 + xx) * 3 + c]);
    }

    [Fact]
    public void CentreCrop_RoundsHalfToEven_AsTorchvision()
    {
        using var dir = new TempDirectory();
        var pixels = SourceFiles.Pixels(7, 4, 1, (y, x, _) => 30 * x + y);

        var x = Read(dir, pixels, 7, 4, 1, new ImageOptions { Size = [4, 4], Channels = 1 });

        // (7 − 4) / 2 = 1.5 rounds to 2 (Python's round, which torchvision's CenterCrop uses)
        Assert.Equal(Enumerable.Range(0, 4).Select(xx => (30 * (xx + 2)) / 255f), x.Take(4));
    }

    [Fact]
    public void Grayscale_IsTheItuR601Luma()
    {
        using var dir = new TempDirectory();
        var pixels = SourceFiles.Pixels(1, 1, 3, (_, _, c) => c switch { 0 => 200, 1 => 100, _ => 50 });

        var x = Read(dir, pixels, 1, 1, 3, new ImageOptions { Channels = 1 });

        var luma = (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255; // 124.2 / 255
        Assert.Single(x);
        Assert.InRange(x[0], luma - 1e-5, luma + 1e-5);
    }

    [Fact]
    public void GrayImage_ReadAsRgb_RepeatsTheGrayLevel()
    {
        using var dir = new TempDirectory();
        var pixels = SourceFiles.Pixels(2, 1, 1, (_, x, _) => 90 + x);

        var x = Read(dir, pixels, 2, 1, 1, new ImageOptions { Channels = 3 });

        Assert.Equal(new[] { 90, 91, 90, 91, 90, 91 }.Select(v => v / 255f), x);
    }

    [Fact]
    public void ShorterSide_IsResized_TheLongerScaledAndTruncated()
    {
        using var dir = new TempDirectory();
        var pixels = SourceFiles.Pixels(4, 9, 1, (y, x, _) => 20 * y + x);
        SourceFiles.Png(Path.Combine(dir.Path, "a", "0.png"), pixels, 4, 9, 1);

        var source = ImageFolderSource.Open(dir.Path, new DataOptions { Image = new ImageOptions { Size = [4, 2], Resize = 2, Channels = 1 } });

        // 4×9 → shorter side 2: 2 × int(2·9/4) = 2×4, then the 4×2 crop is all of it
        Assert.Equal(new[] { 1, 4, 2 }, source.Inputs[0].SampleShape);
        Assert.Equal(8, SourceFiles.All(source).Length);
    }

    [Fact]
    public void Geometry_ComesFromTheModelInput()
    {
        using var dir = new TempDirectory();
        SourceFiles.Folder(dir.Path, ["a"], 1, width: 8, height: 8);

        var chw = ImageFolderSource.Open(dir.Path, model: SourceFiles.ImageModel(1, 4, 4));
        var hwc = ImageFolderSource.Open(dir.Path, model: SourceFiles.ImageModel(6, 5, 3));
        var flat = ImageFolderSource.Open(dir.Path, model: SourceFiles.ImageModel(192));

        Assert.Equal(new[] { 1, 4, 4 }, chw.Inputs[0].SampleShape);
        Assert.Equal((ImageLayout.Nchw, 1), (chw.Settings.Layout!.Value, chw.Settings.Channels!.Value));
        Assert.Equal(new[] { 6, 5, 3 }, hwc.Inputs[0].SampleShape);
        Assert.Equal((ImageLayout.Nhwc, 3), (hwc.Settings.Layout!.Value, hwc.Settings.Channels!.Value));
        Assert.Equal(new[] { 3, 8, 8 }, flat.Inputs[0].SampleShape); // a flat input fixes nothing: the first image's size, RGB, CHW
    }

    [Fact]
    public void BadImageOptions_NameTheProperty()
    {
        using var dir = new TempDirectory();
        SourceFiles.Folder(dir.Path, ["a"], 1);

        OptionsException Refused(ImageOptions o) => Assert.Throws<OptionsException>(() => ImageFolderSource.Open(dir.Path, new DataOptions { Image = o }));

        Assert.Equal("Channels", Refused(new ImageOptions { Channels = 2 }).Option);
        Assert.Equal("Std", Refused(new ImageOptions { Std = [0f] }).Option);
        Assert.Equal("Mean", Refused(new ImageOptions { Mean = [0f, 1f] }).Option);
        Assert.Equal("Resize", Refused(new ImageOptions { Size = [8], Resize = 4 }).Option);
    }
}
