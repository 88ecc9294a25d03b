using Shrink.Ir;
using Xunit;
using static Shrink.Tests.Ops.OneNode;
using A = Shrink.Ir.Attribute;

namespace Shrink.Tests.Ops;

public class ShapeOpsTests
{
    private static Shape BatchAnd(params long[] rest) => new(new[] { Dim.Symbol("N") }.Concat(rest.Select(Dim.Of)));

    [Theory]
    [InlineData(1, 2, 60)]
    [InlineData(2, 6, 20)]
    [InlineData(0, 1, 120)]
    [InlineData(-1, 24, 5)]
    public void Flatten_SplitsAtTheAxis(long axis, long rows, long columns)
    {
        AssertInfers(Shape.Of(rows, columns), "Flatten", new[] { In(2, 3, 4, 5) }, A.Int("axis", axis));
    }

    [Fact]
    public void Flatten_KeepsTheSymbolicBatch()
    {
        AssertInfers(BatchAnd(12), "Flatten", new[] { Batched(3, 4) });
    }

    [Theory]
    [InlineData(new long[] { 0, -1 }, new long[] { 2, 12 })]
    [InlineData(new long[] { -1, 4 }, new long[] { 6, 4 })]
    [InlineData(new long[] { 4, 0, -1 }, new long[] { 4, 3, 2 })]
    [InlineData(new long[] { 24 }, new long[] { 24 })]
    public void Reshape_ZeroCopiesAndMinusOneIsInferred(long[] target, long[] expected)
    {
        AssertInfers(Shape.Of(expected), "Reshape", new[] { In(2, 3, 4), Ints(target) });
    }

    [Fact]
    public void Reshape_KeepsTheSymbolicBatch()
    {
        AssertInfers(BatchAnd(12), "Reshape", new[] { Batched(3, 4), Ints(0, -1) });
        AssertInfers(BatchAnd(2, 6), "Reshape", new[] { Batched(3, 4), Ints(0, 2, -1) });
    }

    [Fact]
    public void Transpose_PermutesOrReverses()
    {
        AssertInfers(Shape.Of(4, 2, 3), "Transpose", new[] { In(2, 3, 4) }, A.Ints("perm", 2, 0, 1));
        AssertInfers(Shape.Of(4, 3, 2), "Transpose", new[] { In(2, 3, 4) });
    }

    [Fact]
    public void Concat_SumsTheAxis()
    {
        AssertInfers(Shape.Of(2, 8), "Concat", new[] { In(2, 3), In(2, 5) }, A.Int("axis", 1));
        AssertInfers(Shape.Of(2, 8), "Concat", new[] { In(2, 3), In(2, 5) }, A.Int("axis", -1));
        AssertInfers(Shape.Of(7, 3), "Concat", new[] { In(1, 3), In(2, 3), In(4, 3) }, A.Int("axis", 0));
    }

    [Theory]
    [InlineData(new long[] { -3 }, new long[] { long.MaxValue }, new long[] { 1 }, null, new long[] { 10, 3 })]
    [InlineData(new long[] { 1 }, new long[] { -1 }, new long[] { 0 }, null, new long[] { 8, 20 })]
    [InlineData(new long[] { -1 }, new long[] { -1000 }, new long[] { 0 }, new long[] { -1 }, new long[] { 10, 20 })]
    [InlineData(new long[] { 0 }, new long[] { 20 }, new long[] { -1 }, new long[] { 3 }, new long[] { 10, 7 })]
    [InlineData(new long[] { 0, -5 }, new long[] { -2, 100 }, null, null, new long[] { 8, 5 })]
    [InlineData(new long[] { 5 }, new long[] { 2 }, new long[] { 0 }, null, new long[] { 0, 20 })]
    public void Slice_NegativeAndOutOfRangeIndices(long[] starts, long[] ends, long[]? axes, long[]? steps, long[] expected)
    {
        var inputs = new[] { In(10, 20), Ints(starts), Ints(ends), axes is null ? null : Ints(axes), steps is null ? null : Ints(steps) };

        AssertInfers(Shape.Of(expected), 13, "Slice", steps is null ? inputs[..4] : inputs);
    }

    [Fact]
    public void Unsqueeze_Opset13_TakesAxesFromTheInput()
    {
        AssertInfers(Shape.Of(1, 3, 4, 1), 13, "Unsqueeze", new[] { In(3, 4), Ints(0, -1) });
        AssertInfers(Shape.Of(3, 1, 4), 13, "Unsqueeze", new[] { In(3, 4), Ints(1) });
    }

    [Fact]
    public void Squeeze_Opset13_DropsGivenOrUnitAxes()
    {
        AssertInfers(Shape.Of(3, 4), 13, "Squeeze", new[] { In(1, 3, 1, 4), Ints(0, -2) });
        AssertInfers(Shape.Of(3, 4), 13, "Squeeze", new[] { In(1, 3, 1, 4) });
    }

    [Fact]
    public void Gather_ReplacesTheAxisByTheIndicesShape()
    {
        AssertInfers(Shape.Of(5, 2, 3, 7), "Gather", new[] { In(5, 4, 7), IntTensor(new long[] { 2, 3 }, 0, 1, 2, 3, 0, 1) }, A.Int("axis", 1));
    }
}
