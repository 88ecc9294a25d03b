using Shrink.Data;
using Xunit;

namespace Shrink.Tests.Data;

public class DatasetTests
{
    private static Dataset Make(int count) => new(
        Enumerable.Range(0, count * 4).Select(i => (float)i).ToArray(),
        Enumerable.Range(0, count).Select(i => i % 3).ToArray(),
        [1, 2, 2], 3, "test set");

    [Fact]
    public void Batch_CopiesSamplesInNchwOrder()
    {
        var (x, y) = Make(5).Batch(1, 2);

        Assert.Equal([4f, 5, 6, 7, 8, 9, 10, 11], x);
        Assert.Equal([1, 2], y);
    }

    [Fact]
    public void CopyBatch_FillsSpans()
    {
        var x = new float[4];
        var y = new int[1];

        Make(5).CopyBatch(4, 1, x, y);

        Assert.Equal([16f, 17, 18, 19], x);
        Assert.Equal([1], y);
    }

    [Fact]
    public void Batch_OutOfRange_Throws()
        => Assert.Throws<ArgumentOutOfRangeException>(() => Make(5).Batch(4, 2));

    [Fact]
    public void Take_KeepsFirstSamples()
    {
        var set = Make(5);

        var first = set.Take(2);

        Assert.Equal(2, first.Count);
        Assert.Equal(set.Images[..8], first.Images);
        Assert.Equal([1, 2, 2], first.SampleShape);
        Assert.Same(set, set.Take(10));
    }

    [Fact]
    public void CountPerClass_CountsLabels()
        => Assert.Equal([2, 2, 1], Make(5).CountPerClass());

    [Fact]
    public void Constructor_RejectsMismatchedLengths()
        => Assert.Throws<ArgumentException>(() => new Dataset(new float[7], new int[2], [1, 2, 2], 3, "x"));

    [Fact]
    public void Constructor_RejectsLabelOutOfRange_NamingSource()
    {
        var e = Assert.Throws<DataException>(() => new Dataset(new float[8], [0, 3], [1, 2, 2], 3, "my set"));

        Assert.Contains("my set: label 3 of sample 1", e.Message);
    }
}
