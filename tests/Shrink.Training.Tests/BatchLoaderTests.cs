using Shrink.Data;
using Shrink.Training;
using Xunit;

namespace Shrink.Training.Tests;

/// <summary>
/// The loader reads batches by index in its seeded order while reading the next one ahead: what it gives is what the source
/// gives for those samples, and a sample that cannot be read fails its own batch, not the one read while it was fetched.
/// </summary>
public class BatchLoaderTests
{
    /// <summary>A source whose sample <paramref name="bad"/> cannot be read (a corrupt file).</summary>
    private sealed class Corrupt(IDataSource inner, int bad) : IDataSource
    {
        public string Name => inner.Name;
        public int Count => inner.Count;
        public IReadOnlyList<DataInput> Inputs => inner.Inputs;
        public int? ClassCount => inner.ClassCount;

        public DataBatch Read(int[] samples, int epoch = 0) =>
            samples.Contains(bad) ? throw new DataException($"sample {bad} is corrupt") : inner.Read(samples, epoch);
    }

    [Fact]
    public void ItGivesWhatTheSourceGives_AndACorruptSampleFailsOnlyItsOwnBatch()
    {
        var data = TestData.Images(Enumerable.Range(0, 40 * 4).Select(i => (float)i).ToArray(), Enumerable.Range(0, 40).Select(i => i % 3).ToArray(), [1, 2, 2], 3, "tiny");
        var order = new BatchLoader(data, 8, seed: 1).Order(0);
        var loader = new BatchLoader(new Corrupt(data, order[17]), 8, seed: 1);  // in batch 2 of 5
        Assert.Equal(order, loader.Order(0));

        for (var b = 0; b < 2; b++)
        {
            var batch = loader.Read(order, b);
            var expected = data.Read(loader.Samples(order, b));
            Assert.Equal((float[])expected.Inputs[0].Data, (float[])batch.Inputs[0].Data);
            Assert.Equal(expected.Labels, batch.Labels);
        }
        Assert.Equal($"sample {order[17]} is corrupt", Assert.Throws<DataException>(() => loader.Read(order, 2)).Message);
        Assert.Equal((float[])data.Read(loader.Samples(order, 4)).Inputs[0].Data, (float[])loader.Read(order, 4).Inputs[0].Data);  // out of turn: read afresh
        Assert.Equal(8, loader.Samples(order, 4).Length);
    }
}
