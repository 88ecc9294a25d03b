using Shrink.Data;
using Shrink.Runtime;

namespace Shrink.TestSupport;

/// <summary>Small helpers for tests that read a data source's samples as arrays, or build a labelled image source in memory.</summary>
internal static class TestData
{
    /// <summary>Every sample of <paramref name="source"/> in one batch.</summary>
    public static DataBatch All(this IDataSource source) => source.Read(Enumerable.Range(0, source.Count).ToArray());

    /// <summary>Samples [start, start+count) of a single-input float source: the values (flattened) and the labels.</summary>
    public static (float[] X, int[] Y) Batch(this IDataSource source, int start, int count)
    {
        var batch = source.Read(Enumerable.Range(start, count).ToArray());
        return ((float[])batch.Inputs[0].Data, batch.Labels!);
    }

    /// <summary>The labels of every sample.</summary>
    public static int[] Labels(this IDataSource source) => source.All().Labels!;

    /// <summary>A labelled source of float images [N, …<paramref name="sampleShape"/>] with one input named <c>image</c>.</summary>
    public static InMemorySource Images(float[] images, int[] labels, int[] sampleShape, int classes, string name)
    {
        var shape = new long[] { labels.Length }.Concat(sampleShape.Select(d => (long)d)).ToArray();
        return new InMemorySource(name, new[] { new HostTensor("image", images, shape) }, labels, classes);
    }
}
