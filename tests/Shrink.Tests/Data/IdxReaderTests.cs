using Shrink.Data;
using Xunit;

namespace Shrink.Tests.Data;

public class IdxReaderTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Images_RoundTrip_RawAndGzip(bool gzip)
    {
        var raw = IdxTestFiles.Images(3, 2, 5);
        var bytes = gzip ? IdxTestFiles.Gzip(raw) : raw;

        var images = IdxReader.ReadImages(new MemoryStream(bytes), "tiny");

        Assert.Equal((3, 2, 5), (images.Count, images.Rows, images.Cols));
        Assert.Equal(raw.Skip(16).Select(b => b / 255f), images.Pixels);
        Assert.Equal(1f, images.Pixels[0]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Labels_RoundTrip_FromPath(bool gzip)
    {
        using var dir = new TempDirectory();
        var raw = IdxTestFiles.Labels(4, 0, 9);
        File.WriteAllBytes(dir.File("labels"), gzip ? IdxTestFiles.Gzip(raw) : raw);

        Assert.Equal([4, 0, 9], IdxReader.ReadLabels(dir.File("labels")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedImages_Throw_NamingFile(bool gzip)
    {
        var raw = IdxTestFiles.Images(3, 2, 5)[..^4];
        var bytes = gzip ? IdxTestFiles.Gzip(raw) : raw;

        var e = Assert.Throws<DataException>(() => IdxReader.ReadImages(new MemoryStream(bytes), "short.idx"));

        Assert.Contains("'short.idx' is truncated", e.Message);
        Assert.Contains("3x2x5", e.Message);
    }

    [Fact]
    public void TruncatedGzip_Throws()
    {
        var bytes = IdxTestFiles.Gzip(IdxTestFiles.Images(50, 8, 8))[..60];

        var e = Assert.Throws<DataException>(() => IdxReader.ReadImages(new MemoryStream(bytes), "cut.gz"));

        Assert.Contains("'cut.gz'", e.Message);
    }

    [Fact]
    public void TrailingBytes_Throw()
    {
        byte[] bytes = [.. IdxTestFiles.Labels(1, 2), 7];

        var e = Assert.Throws<DataException>(() => IdxReader.ReadLabels(new MemoryStream(bytes), "long"));

        Assert.Contains("1 bytes after", e.Message);
    }

    [Fact]
    public void LabelFileReadAsImages_Throws_WithMagic()
    {
        var e = Assert.Throws<DataException>(() => IdxReader.ReadImages(new MemoryStream(IdxTestFiles.Labels(1, 2)), "labels"));

        Assert.Contains("magic 0x00000801, expected 0x00000803", e.Message);
    }

    [Fact]
    public void TooShortForHeader_Throws()
    {
        var e = Assert.Throws<DataException>(() => IdxReader.ReadImages(new MemoryStream([0, 0, 8]), "tiny"));

        Assert.Contains("too short for an IDX image header", e.Message);
    }

    [Fact]
    public void MissingFile_Throws_NamingPath()
    {
        var e = Assert.Throws<DataException>(() => IdxReader.ReadImages("/nonexistent/x-idx3-ubyte"));

        Assert.Contains("'/nonexistent/x-idx3-ubyte' does not exist", e.Message);
    }
}
