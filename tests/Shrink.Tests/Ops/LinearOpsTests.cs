using Shrink.Ir;
using Xunit;
using static Shrink.Tests.Ops.OneNode;
using A = Shrink.Ir.Attribute;

namespace Shrink.Tests.Ops;

public class LinearOpsTests
{
    [Fact]
    public void Gemm_TransB()
    {
        AssertInfers(Shape.Of(4, 16), "Gemm", new[] { In(4, 8), In(16, 8), In(16) }, A.Int("transB", 1));
    }

    [Fact]
    public void Gemm_TransA()
    {
        AssertInfers(Shape.Of(4, 16), "Gemm", new[] { In(8, 4), In(8, 16) }, A.Int("transA", 1));
    }

    [Fact]
    public void Gemm_InnerDimensionMismatch_IsAProblem()
    {
        var (model, node) = Build("Gemm", new[] { In(4, 8), In(16, 9) }, new[] { A.Int("transB", 1) });

        var problem = Assert.Single(Shrink.Ops.ShapeInference.Run(model).Problems);

        Assert.Contains("'n'", problem);
        Assert.Equal(Shape.Of(4, 16), node.Outputs[0]!.Shape);
    }

    [Fact]
    public void MatMul_BroadcastsBatchAxes()
    {
        AssertInfers(Shape.Of(2, 5, 3, 6), "MatMul", new[] { In(2, 1, 3, 4), In(5, 4, 6) });
    }

    [Fact]
    public void MatMul_PromotesAndDropsOneDimensionalOperands()
    {
        AssertInfers(Shape.Of(6), "MatMul", new[] { In(4), In(4, 6) });
        AssertInfers(Shape.Of(3), "MatMul", new[] { In(3, 4), In(4) });
        AssertInfers(Shape.Of(2, 3), "MatMul", new[] { In(2, 3, 4), In(4) });
    }

    [Fact]
    public void MatMul_KeepsTheSymbolicBatch()
    {
        AssertInfers(new Shape(new[] { Dim.Symbol("N"), Dim.Of(7), Dim.Of(6) }), "MatMul", new[] { Batched(7, 4), In(4, 6) });
    }
}
