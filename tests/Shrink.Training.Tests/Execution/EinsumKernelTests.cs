using Shrink.Ir;
using Shrink.Training.Execution;
using Xunit;
using Attribute = Shrink.Ir.Attribute;

namespace Shrink.Training.Tests.Execution;

/// <summary>
/// Einsum against ONNX Runtime: float32 products summed in another order (largest difference measured 1.2e-7 of the
/// output's scale; gate 1e-6, 8× that).
/// </summary>
[Collection("torch")]
public class EinsumKernelTests
{
    private const double Tolerance = 1e-6;

    public static TheoryData<string, long[][]> Equations => new()
    {
        { "bij,bjk->bik", new[] { new long[] { 2, 3, 4 }, new long[] { 2, 4, 5 } } },
        { "bhid,bhjd->bhij", new[] { new long[] { 2, 2, 3, 4 }, new long[] { 2, 2, 5, 4 } } },
        { "bhij,bhjd->bhid", new[] { new long[] { 2, 2, 3, 5 }, new long[] { 2, 2, 5, 4 } } },
        { "ij->ji", new[] { new long[] { 3, 4 } } },
        { "ii->i", new[] { new long[] { 4, 4 } } },
        { "ij->", new[] { new long[] { 3, 4 } } },
        { "i,i", new[] { new long[] { 5 }, new long[] { 5 } } },
        { "ba,ac", new[] { new long[] { 2, 3 }, new long[] { 3, 4 } } },
        { "bn,anm,bm->ba", new[] { new long[] { 2, 3 }, new long[] { 4, 3, 5 }, new long[] { 2, 5 } } },
        { "ij,jk,kl->il", new[] { new long[] { 2, 3 }, new long[] { 3, 4 }, new long[] { 4, 2 } } },
        { "b i d, b j d -> b i j", new[] { new long[] { 2, 3, 4 }, new long[] { 2, 5, 4 } } },
    };

    [Theory]
    [MemberData(nameof(Equations))]
    public void MatchesOnnxRuntime(string equation, long[][] shapes)
    {
        var g = new OpGraph(13, seed: equation.Length);
        var inputs = shapes.Select(s => g.Input(s)).ToArray();
        var model = g.Build(g.Op("Einsum", inputs, Attribute.String("equation", equation)));
        OpParity.AssertMatches(model, g.Feeds, Tolerance, equation);
        for (var i = 0; i < inputs.Length; i++) OpParity.AssertInputGradient(model, g.Feeds, i);
    }

    [Theory]
    [InlineData("...ij,...jk->...ik", 2, "Einsum (1 node: equation '...ij,...jk->...ik' with an ellipsis (letters only run))")]
    [InlineData("a,b,c,d->abcd", 4, "Einsum (1 node: 4 operands (1 to 3 run))")]
    [InlineData("ij,jk->iq", 2, "Einsum (1 node: equation 'ij,jk->iq' for 2 operands)")]
    public void OtherEquationsAreRefusedInOneLine(string equation, int operands, string expected)
    {
        var g = new OpGraph(13);
        var inputs = Enumerable.Range(0, operands).Select(_ => g.Input(2, 2)).ToArray();
        var model = g.Build(g.Op("Einsum", inputs, Attribute.String("equation", equation)));
        var e = Assert.Throws<UnsupportedOpException>(() => GraphExecutor.Compile(model));
        Assert.Contains(expected, e.Message);
    }
}
