using Shrink.Data;
using Xunit;

namespace Shrink.Tests.Data;

public class FashionMnistTests
{
    [Fact]
    public void Embedded_IsBalancedSubset()
    {
        var (train, test) = FashionMnist.LoadEmbedded();

        Assert.Equal(6000, train.Count);
        Assert.Equal(1000, test.Count);
        Assert.Equal(10, train.ClassCount);
        Assert.Equal(Enumerable.Repeat(600, 10), train.Labels().CountBy(l => l).OrderBy(p => p.Key).Select(p => p.Value));
        Assert.Equal(Enumerable.Repeat(100, 10), test.Labels().CountBy(l => l).OrderBy(p => p.Key).Select(p => p.Value));
        Assert.Equal([1, 28, 28], Assert.Single(train.Inputs).SampleShape);
        var images = (float[])train.All().Inputs[0].Data;
        Assert.Equal(6000 * 784, images.Length);
        Assert.InRange(images.Average(), 0.2, 0.4);
        Assert.Contains("embedded", train.Name);
    }

    [Fact]
    public void ExplicitEmptyDir_Throws_NamingDirAndMend()
    {
        using var dir = new TempDirectory();

        var e = Assert.Throws<DataException>(() => FashionMnist.Load(dir.Path, null, null));

        // The library names the option that gives the data ("Data"), not a command-line flag; the CLI prints --data.
        Assert.Contains($"looked in data {dir.Path} (", e.Message);
        Assert.Contains("missing train-images-idx3-ubyte[.gz]", e.Message);
        Assert.EndsWith("pass data DIR, or pass data embedded", e.Message);
        Assert.DoesNotContain("--", e.Message);
        Assert.Equal(new[] { "Data", "Data", "Data" }, e.Wording.Options.Select(o => o.Property));
    }

    [Fact]
    public void ExplicitMissingDir_Throws_SayingSo()
    {
        var e = Assert.Throws<DataException>(() => FashionMnist.LoadDirectory("/nonexistent/fmnist"));

        Assert.Contains("/nonexistent/fmnist (directory does not exist)", e.Message);
    }

    [Fact]
    public void EnvDirWithoutFiles_Throws_NamingVariable()
    {
        using var dir = new TempDirectory();

        var e = Assert.Throws<DataException>(() => FashionMnist.Load(null, dir.Path, null));

        Assert.Contains($"SHRINK_DATA={dir.Path}", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Directory_LoadsRawOrGzip(bool gzip)
    {
        using var dir = new TempDirectory();
        IdxTestFiles.WriteSet(dir.Path, gzip);

        var (train, test) = FashionMnist.Load(dir.Path, null, null);

        Assert.Equal([0, 1, 2, 9, 9], train.Labels);
        Assert.Equal([3, 4, 5], test.Labels);
        Assert.Equal([1, 4, 4], test.SampleShape);
        Assert.Contains(dir.Path, train.Source);
        Assert.Contains(dir.Path, FashionMnist.LoadDirectory(dir.Path).Train.Name);
    }

    [Fact]
    public void Search_PrefersEnvOverDefault_AndFallsBackToEmbedded()
    {
        using var env = new TempDirectory();
        using var fallback = new TempDirectory();
        IdxTestFiles.WriteSet(env.Path, gzip: false);

        Assert.Equal(5, FashionMnist.Load(null, env.Path, fallback.Path).Train.Count);
        Assert.Equal(5, FashionMnist.Load(null, null, env.Path).Train.Count);
        Assert.Equal(6000, FashionMnist.Load(null, null, fallback.Path).Train.Count);
        Assert.Equal(1000, FashionMnist.Load("embedded", env.Path, env.Path).Test.Count);
    }

    [Fact]
    public void MismatchedCounts_Throw_NamingBothFiles()
    {
        using var dir = new TempDirectory();
        IdxTestFiles.WriteSet(dir.Path, gzip: false);
        File.WriteAllBytes(dir.File("t10k-labels-idx1-ubyte"), IdxTestFiles.Labels(1, 2));

        var e = Assert.Throws<DataException>(() => FashionMnist.LoadDirectory(dir.Path));

        Assert.Contains("holds 3 images but", e.Message);
        Assert.Contains("t10k-labels-idx1-ubyte' holds 2 labels", e.Message);
    }
}
