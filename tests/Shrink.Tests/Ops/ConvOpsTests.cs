using Shrink.Ir;
using Xunit;
using static Shrink.Tests.Ops.OneNode;
using A = Shrink.Ir.Attribute;

namespace Shrink.Tests.Ops;

/// <summary>Spatial sizes: floor((in + pad_begin + pad_end − dilation·(k−1) − 1) / stride) + 1, auto_pad and ceil_mode.</summary>
public class ConvOpsTests
{
    private static Value Weight(long outC, long inC, long k) => new("w", DataType.Float, Shape.Of(outC, inC, k, k))
    {
        Const = Tensor.FromFloats("w", new[] { outC, inC, k, k }, new float[outC * inC * k * k]),
    };

    [Theory]
    [InlineData(32, 3, 1, 1, 1, 1, 32)]
    [InlineData(32, 3, 2, 1, 1, 1, 16)]
    [InlineData(32, 3, 1, 0, 0, 2, 28)]
    [InlineData(7, 3, 2, 0, 1, 1, 3)]
    [InlineData(10, 5, 3, 2, 2, 2, 2)]
    public void Conv_PadsStridesDilations(long size, long k, long stride, long padBegin, long padEnd, long dilation, long expected)
    {
        AssertInfers(Shape.Of(1, 8, expected, expected), "Conv", new[] { In(1, 3, size, size), Weight(8, 3, k) },
            A.Ints("kernel_shape", k, k), A.Ints("strides", stride, stride), A.Ints("dilations", dilation, dilation),
            A.Ints("pads", padBegin, padBegin, padEnd, padEnd));
    }

    [Fact]
    public void Conv_AsymmetricPadsAreBeginsThenEnds()
    {
        AssertInfers(Shape.Of(1, 8, 10, 12), "Conv", new[] { In(1, 3, 10, 10), Weight(8, 3, 3) }, A.Ints("pads", 0, 1, 2, 3));
    }

    [Fact]
    public void Conv_KernelComesFromTheWeightWhenNotGiven()
    {
        AssertInfers(Shape.Of(2, 4, 24, 24), "Conv", new[] { In(2, 3, 28, 28), Weight(4, 3, 5) });
    }

    [Theory]
    [InlineData("SAME_UPPER", 4, 5)]
    [InlineData("SAME_LOWER", 4, 5)]
    [InlineData("VALID", 3, 4)]
    public void Conv_AutoPad(string autoPad, long h, long w)
    {
        AssertInfers(Shape.Of(1, 8, h, w), "Conv", new[] { In(1, 3, 7, 9), Weight(8, 3, 3) },
            A.String("auto_pad", autoPad), A.Ints("strides", 2, 2));
    }

    [Fact]
    public void Conv_GroupedKeepsTheSymbolicBatch()
    {
        var w = new Value("w", DataType.Float, Shape.Of(6, 1, 3, 3)) { Const = Tensor.FromFloats("w", new long[] { 6, 1, 3, 3 }, new float[54]) };

        AssertInfers(new Shape(new[] { Dim.Symbol("N"), Dim.Of(6), Dim.Of(8), Dim.Of(8) }), "Conv", new[] { Batched(6, 10, 10), w }, A.Int("group", 6));
    }

    [Theory]
    [InlineData(6, 3, 2, 0, 0, 2)]
    [InlineData(6, 3, 2, 0, 1, 3)]
    [InlineData(5, 2, 2, 0, 0, 2)]
    [InlineData(5, 2, 2, 0, 1, 3)]
    [InlineData(3, 2, 2, 1, 0, 2)]
    [InlineData(3, 2, 2, 1, 1, 2)]  // the third window would start in the padding: dropped, as in PyTorch
    public void MaxPool_CeilMode(long size, long k, long stride, long pad, long ceil, long expected)
    {
        AssertInfers(Shape.Of(1, 2, expected, expected), "MaxPool", new[] { In(1, 2, size, size) },
            A.Ints("kernel_shape", k, k), A.Ints("strides", stride, stride), A.Ints("pads", pad, pad, pad, pad), A.Int("ceil_mode", ceil));
    }

    [Fact]
    public void AveragePool_Strided()
    {
        AssertInfers(Shape.Of(1, 2, 14, 14), "AveragePool", new[] { In(1, 2, 28, 28) }, A.Ints("kernel_shape", 2, 2), A.Ints("strides", 2, 2));
    }

    [Fact]
    public void GlobalAveragePool_KeepsBatchAndChannels()
    {
        AssertInfers(Shape.Of(3, 5, 1, 1), "GlobalAveragePool", new[] { In(3, 5, 7, 9) });
    }
}
