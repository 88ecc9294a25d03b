using Shrink.Data;
using Shrink.Training.Execution;
using Shrink.Zoo;
using Xunit;
using static Shrink.TestSupport.Allocations;
using static TorchSharp.torch;

namespace Shrink.Training.Tests.Security;

/// <summary>The executor's and the batch loader's bounds: a batch of zero samples is refused, and a batch larger than the data set allocates no more than it.</summary>
public class ResourceBoundsTests
{
    [Fact]
    public void Executor_RefusesAZeroBatch_AndReturnsEmptyTensorsAsEmptyArrays()
    {
        using var executor = GraphExecutor.Compile(ModelZoo.Create("lenet300", 0));
        using var scope = NewDisposeScope();

        var e = Assert.Throws<DataException>(() => executor.Forward(zeros(0, 1, 28, 28)));
        var empty = TorchTensors.ToHost("y", zeros(0, 10));

        Assert.Contains("has batch size 0", e.Message);
        Assert.Equal([0L, 10], empty.Shape);
        Assert.Empty(Assert.IsType<float[]>(empty.Data));
    }

    [Fact]
    public void BatchLoader_RefusesBatchSizeZero_AndAllocatesNoMoreThanTheDataSet()
    {
        var data = TestData.Images(new float[2 * 4], [0, 1], [1, 2, 2], 10, "tiny");

        Assert.Contains("batch size 0 is out of range", Assert.Throws<OptionsException>(() => new BatchLoader(data, 0, 0)).Message);
        var bytes = Allocated(() => Assert.Equal(1, new BatchLoader(data, int.MaxValue, 0).Batches));
        Assert.True(bytes < OneMiB, $"allocated {bytes:N0} bytes");
    }
}
