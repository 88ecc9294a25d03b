using Shrink.Ir;
using Shrink.Ops;
using Xunit;
using static Shrink.Tests.Ops.OneNode;
using A = Shrink.Ir.Attribute;

namespace Shrink.Tests.Ops;

public class ElementwiseTests
{
    [Fact]
    public void Add_BroadcastsShapes()
    {
        AssertInfers(Shape.Of(2, 3, 4), "Add", new[] { In(2, 1, 4), In(3, 1) });
    }

    [Fact]
    public void Cast_ChangesTheElementType()
    {
        var (model, node) = Build("Cast", new[] { In(2, 3) }, new[] { A.Int("to", (long)DataType.Float16) });

        ShapeInference.Run(model);

        Assert.Equal(DataType.Float16, node.Outputs[0]!.ElementType);
        Assert.Equal(Shape.Of(2, 3), node.Outputs[0]!.Shape);
    }

    /// <summary>Reshape(z, Cast(Shape(x) / [1,2,1])): the shape arithmetic stays known through the Cast, as in a channel shuffle.</summary>
    [Fact]
    public void Cast_KeepsShapeArithmeticKnown()
    {
        var g = new Graph("shuffle");
        var x = new Value("x", DataType.Float, Shape.Of(2, 6, 4));
        var z = new Value("z", DataType.Float, Shape.Of(4, 3, 2));
        g.Inputs.AddRange(new[] { x, z });
        var divisor = g.AddInitializer(Tensor.FromInt64s("divisor", new long[] { 3 }, new long[] { 1, 2, 1 }));
        var shape = Op(g, "Shape", x);
        var halved = Op(g, "Div", shape, divisor);
        var cast = Op(g, "Cast", halved);
        cast.Producer!.Attributes.Add(A.Int("to", (long)DataType.Int64));
        g.Outputs.Add(Op(g, "Reshape", z, cast));
        var model = new Model(g);
        model.SetOpset("", 17);

        Assert.Empty(ShapeInference.Run(model).Problems);

        Assert.Equal(Shape.Of(2, 3, 4), g.Outputs[0].Shape);
    }

    private static Value Op(Graph g, string op, params Value[] inputs)
    {
        var n = new Node(op, "", op.ToLowerInvariant());
        foreach (var i in inputs) n.AddInput(i);
        var output = n.AddOutput(new Value(op.ToLowerInvariant() + "_out"))!;
        g.AddNode(n);
        return output;
    }
}
