using Shrink.Data;
using Shrink.Data.Images;
using Shrink.Data.Sources;
using Xunit;

namespace Shrink.Tests.Data.Sources;

/// <summary>Image folders: classes and labels as torchvision's ImageFolder, splits, formats, parallel decoding, and every bad input's one line.</summary>
public class ImageFolderSourceTests
{
    [Fact]
    public void Classes_AreTheSortedFolderNames_LabelsTheirIndex_FilesInPathOrder()
    {
        using var dir = new TempDirectory();
        SourceFiles.Folder(dir.Path, ["zebra", "ant", "Bee"], perClass: 2);
        Directory.CreateDirectory(Path.Combine(dir.Path, ".ipynb_checkpoints"));
        File.WriteAllText(Path.Combine(dir.Path, "ant", "notes.txt"), "not an image");

        var source = ImageFolderSource.Open(dir.Path);
        var batch = source.Read(Enumerable.Range(0, source.Count).ToArray());

        Assert.Equal(["Bee", "ant", "zebra"], source.ClassNames!); // ordinal, as Python's sorted()
        Assert.Equal(3, source.ClassCount);
        Assert.Equal([0, 0, 1, 1, 2, 2], batch.Labels);
        Assert.Equal(["img000.png", "img001.png"], source.Files.Take(2).Select(Path.GetFileName));
        Assert.Equal(new long[] { 6, 3, 8, 8 }, batch.Inputs[0].Shape);
        Assert.Equal($"image folder {dir.Path}: 6 images in 3 classes, 3×8×8", source.Name);
    }

    [Fact]
    public void ParallelDecoding_GivesTheSameBytesAsSequential()
    {
        using var dir = new TempDirectory();
        SourceFiles.Folder(dir.Path, ["a", "b"], perClass: 12, width: 20, height: 14, format: ImageFormat.Jpeg);
        var image = new ImageOptions { Size = [8, 8], Crop = ImageCrop.Random };
        var order = Enumerable.Range(0, 24).Reverse().ToArray();

        var one = ImageFolderSource.Open(dir.Path, new DataOptions { Workers = 1, Image = image }, training: true).Read(order, epoch: 3);
        var many = ImageFolderSource.Open(dir.Path, new DataOptions { Workers = 8, Image = image }, training: true).Read(order, epoch: 3);

        Assert.Equal((float[])one.Inputs[0].Data, (float[])many.Inputs[0].Data);
        Assert.Equal(one.Labels, many.Labels);
    }

    [Fact]
    public void JpegAndWebp_DecodeToWhatWasWritten()
    {
        using var png = new TempDirectory();
        using var jpeg = new TempDirectory();
        using var webp = new TempDirectory();
        var smooth = SourceFiles.Pixels(16, 16, 3, (y, x, c) => 40 + 8 * x + 4 * y + 20 * c); // JPEG's chroma subsampling blurs sharp edges
        foreach (var (dir, format, ext) in new[] { (png, ImageFormat.Png, ".png"), (jpeg, ImageFormat.Jpeg, ".jpg"), (webp, ImageFormat.Webp, ".webp") })
            ImageEncoder.Write(Path.Combine(dir.Path, "a", "0" + ext), smooth, 16, 16, 3, format, format == ImageFormat.Jpeg ? 95 : 100);

        var exact = SourceFiles.All(ImageFolderSource.Open(png.Path));
        var lossy = SourceFiles.All(ImageFolderSource.Open(jpeg.Path));
        var lossless = SourceFiles.All(ImageFolderSource.Open(webp.Path));

        Assert.Equal(exact, lossless); // WebP at quality 100 is lossless
        var meanError = exact.Zip(lossy, (a, b) => Math.Abs(a - b)).Average();
        Assert.True(meanError < 3 / 255.0, $"JPEG q95 of a smooth gradient decodes within {meanError} of it on average"); // measured 0.0084 (2.1 grey levels); the gate is 3
    }

    [Fact]
    public void TrainAndValFolders_AreTheSplits_ValTakesTrainsClasses()
    {
        using var dir = new TempDirectory();
        SourceFiles.Folder(Path.Combine(dir.Path, "train"), ["cat", "dog", "eel"], 3);
        SourceFiles.Folder(Path.Combine(dir.Path, "val"), ["dog", "eel"], 1);

        var splits = DataSources.Open(dir.Path);

        Assert.Equal((9, 2), (splits.Train.Count, splits.Test.Count));
        Assert.Equal([1, 2], splits.Test.Read([0, 1]).Labels);
        Assert.Equal(3, splits.Test.ClassCount);
        Assert.StartsWith($"image folder {Path.Combine(dir.Path, "val")}: 2 images in 3 classes", splits.Test.Name);
    }

    [Fact]
    public void AFolderWithoutSplits_IsSplitBySeededFraction()
    {
        using var dir = new TempDirectory();
        SourceFiles.Folder(dir.Path, ["a", "b"], 10);

        var whole = DataSources.Open(dir.Path);
        var split = DataSources.Open(dir.Path, new DataOptions { SplitFraction = 0.25, Seed = 5 });

        Assert.Equal((20, 20), (whole.Train.Count, whole.Test.Count));
        Assert.Equal((15, 5), (split.Train.Count, split.Test.Count));
        var all = SourceFiles.All(whole.Train).Chunk(3 * 8 * 8).Select(c => c[0]).ToList();
        var seen = SourceFiles.All(split.Train).Chunk(192).Concat(SourceFiles.All(split.Test).Chunk(192)).Select(c => c[0]).Order();
        Assert.Equal(all.Order(), seen); // disjoint and complete
    }

    [Fact]
    public void RandomCrop_IsSeededBySampleAndEpoch_AndOnlyOnTheTrainingSplit()
    {
        using var dir = new TempDirectory();
        SourceFiles.Folder(dir.Path, ["a"], 6, 12, 12);
        var options = new DataOptions { Seed = 1, Image = new ImageOptions { Size = [8, 8], Resize = 12, Crop = ImageCrop.Random } };

        var splits = DataSources.Open(dir.Path, options);
        var again = DataSources.Open(dir.Path, options);

        Assert.True(splits.Train.Augments);
        Assert.False(splits.Test.Augments);
        Assert.Equal(SourceFiles.All(splits.Train, 2), SourceFiles.All(again.Train, 2));
        Assert.Equal(splits.Train.Read([4, 1], 2).Inputs[0].Data.Cast<float>(), SourceFiles.All(again.Train, 2).Chunk(192).ElementAt(4).Concat(SourceFiles.All(again.Train, 2).Chunk(192).ElementAt(1)));
        Assert.NotEqual(SourceFiles.All(splits.Train, 2), SourceFiles.All(splits.Train, 3));
        Assert.Equal(SourceFiles.All(splits.Test, 2), SourceFiles.All(splits.Test, 3));
    }

    [Fact]
    public void CorruptOrTruncatedImage_IsOneLineNamingTheFile()
    {
        using var dir = new TempDirectory();
        SourceFiles.Folder(dir.Path, ["a"], 2, 64, 64, ImageFormat.Jpeg);
        var garbage = Path.Combine(dir.Path, "a", "broken.png");
        File.WriteAllText(garbage, "this is not a PNG");
        var truncated = Path.Combine(dir.Path, "a", "img001.jpg");
        File.WriteAllBytes(truncated, File.ReadAllBytes(truncated) is var bytes ? bytes[..(bytes.Length * 2 / 3)] : []);
        var source = ImageFolderSource.Open(dir.Path, new DataOptions { Image = new ImageOptions { Size = [16] } });

        var e1 = Assert.Throws<DataException>(() => source.Read([0]));
        var e2 = Assert.Throws<DataException>(() => source.Read([2]));

        Assert.Equal($"image '{garbage}' cannot be decoded: it is not a PNG, JPEG, WebP, BMP or GIF image, or its header is corrupt; remove or replace it, or skip and count unreadable images with the skip-bad data option", e1.Message);
        Assert.Equal("SkipBad", Assert.Single(e1.Wording.Options).Property); // the CLI names its flag
        Assert.StartsWith($"image '{truncated}' cannot be decoded: it is truncated or corrupt;", e2.Message);
        Assert.Equal(e1.Message, Assert.Throws<DataException>(() => ImageFolderSource.Open(dir.Path)).Message); // the size comes from the first image
    }

    [Fact]
    public void SkipBad_LeavesOutAndCountsTheUnreadableImages()
    {
        using var dir = new TempDirectory();
        SourceFiles.Folder(dir.Path, ["a", "b"], 3, 64, 64, ImageFormat.Jpeg);
        File.WriteAllText(Path.Combine(dir.Path, "a", "broken.png"), "not an image");
        var truncated = Path.Combine(dir.Path, "b", "img002.jpg");
        File.WriteAllBytes(truncated, File.ReadAllBytes(truncated) is var bytes ? bytes[..(bytes.Length * 2 / 3)] : []);

        var source = ImageFolderSource.Open(dir.Path, new DataOptions { SkipBad = true });

        Assert.Equal(5, source.Count);
        Assert.Equal([Path.Combine(dir.Path, "a", "broken.png"), truncated], source.SkippedFiles);
        Assert.EndsWith(", 2 unreadable skipped", source.Name);
        Assert.Equal(5, source.Read(Enumerable.Range(0, 5).ToArray()).Count);
    }

    [Fact]
    public void EmptyClassFolder_IsOneLineNamingIt()
    {
        using var dir = new TempDirectory();
        SourceFiles.Folder(dir.Path, ["a"], 1);
        Directory.CreateDirectory(Path.Combine(dir.Path, "b"));

        var e = Assert.Throws<DataException>(() => ImageFolderSource.Open(dir.Path));

        Assert.Equal($"image folder '{dir.Path}': class folder 'b' holds no images (.png, .jpg, .jpeg, .webp, .bmp, .gif); add images or remove the folder", e.Message);
    }

    [Fact]
    public void ValClassMissingFromTrain_IsOneLine()
    {
        using var dir = new TempDirectory();
        SourceFiles.Folder(Path.Combine(dir.Path, "train"), ["a", "b"], 1);
        SourceFiles.Folder(Path.Combine(dir.Path, "val"), ["a", "c"], 1);

        var e = Assert.Throws<DataException>(() => DataSources.Open(dir.Path));

        Assert.Equal($"image folder '{Path.Combine(dir.Path, "val")}': class folder 'c' is not a class of the training split (a, b); give both splits the same class folders", e.Message);
    }

    [Fact]
    public void ImageSmallerThanTheCrop_IsOneLineNamingIt()
    {
        using var dir = new TempDirectory();
        SourceFiles.Folder(dir.Path, ["a"], 1, 4, 8);
        var small = SourceFiles.Png(Path.Combine(dir.Path, "a", "small.png"), new byte[8 * 4 * 3], 8, 4, 3);
        var source = ImageFolderSource.Open(dir.Path, new DataOptions { Image = new ImageOptions { Size = [8, 4], Resize = 4 } });

        source.Read([0]); // 4×8 resizes to 4×8, the crop
        var e = Assert.Throws<DataException>(() => source.Read([1]));

        Assert.StartsWith($"image '{small}' (8×4) resizes to 8×4, smaller than the 4×8 crop", e.Message);
    }
}
