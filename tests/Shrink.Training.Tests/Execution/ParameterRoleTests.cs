using Shrink.Ir;
using Shrink.Training.Execution;
using Xunit;
using Attribute = Shrink.Ir.Attribute;

namespace Shrink.Training.Tests.Execution;

/// <summary>Which initializers the executor trains: weights and biases of any size, never scalars, integers or geometry.</summary>
[Collection("torch")]
public class ParameterRoleTests
{
    [Fact]
    public void AOneChannelBiasTrainsAndScalarsIntegersAndScalesStayConstants()
    {
        var g = new OpGraph(13);
        var x = g.Input(2, 3, 4, 4);
        var weight = g.RandomFloats(1, 3, 3, 3);
        var bias = g.Floats(0.5f);
        var conv = g.Op("Conv", new[] { x, weight, bias }, Attribute.Ints("pads", 1, 1, 1, 1));
        var scaled = g.Op("Mul", new[] { conv, g.Scalar(0.5f) });
        var resized = g.Op("Resize", new[] { scaled, null, g.Floats(1, 1, 2, 2) }, Attribute.String("mode", "nearest"));
        var flat = g.Op("Reshape", new[] { resized, g.Ints(2, -1) });
        var slope = g.Floats(new long[] { 1 }, new[] { 0.25f });
        var model = g.Build(g.Op("PRelu", new[] { flat, slope }));

        using var ex = GraphExecutor.Compile(model);

        Assert.Equal(new[] { weight.Name, bias.Name, slope.Name }, ex.Parameters.Select(p => p.Name));
        Assert.All(ex.Parameters, p => Assert.True(p.Trainable));
        OpParity.AssertMatches(model, g.Feeds, 1e-6);
        OpParity.AssertParameterGradient(model, g.Feeds, bias.Name);
    }
}
