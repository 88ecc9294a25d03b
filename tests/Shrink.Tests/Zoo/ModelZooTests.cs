using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Stats;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Zoo;

public class ModelZooTests
{
    public static TheoryData<string> Names => TestModels.Zoo;

    private static Shape Batched(params long[] rest) => new(new[] { Dim.Symbol("N") }.Concat(rest.Select(Dim.Of)));

    [Theory]
    [MemberData(nameof(Names))]
    public void Model_BuildsValidWithTheFashionMnistInterface(string name)
    {
        var model = ModelZoo.Create(name);

        Assert.Empty(GraphValidator.Validate(model, new ValidationOptions { RequireKnownOps = true }));
        var input = Assert.Single(model.Graph.Inputs);
        var output = Assert.Single(model.Graph.Outputs);
        Assert.Equal(("input", DataType.Float, Batched(1, 28, 28)), (input.Name, input.ElementType, input.Shape));
        Assert.Equal(("output", DataType.Float, Batched(10)), (output.Name, output.ElementType, output.Shape));
        Assert.Contains(new KeyValuePair<string, string>("shrink.zoo", name), model.Metadata);
    }

    [Theory]
    [InlineData("vgg-small")]
    [InlineData("resnet-small")]
    public void LargerModels_HaveBetweenAQuarterAndOneAndAHalfMillionParameters(string name)
    {
        Assert.InRange(ModelStats.Compute(ModelZoo.Create(name)).Parameters, 250_000, 1_500_000);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void SameSeed_GivesIdenticalBytes(string name)
    {
        Assert.Equal(OnnxWriter.ToBytes(ModelZoo.Create(name, seed: 7)), OnnxWriter.ToBytes(ModelZoo.Create(name, seed: 7)));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void DifferentSeed_GivesDifferentWeights(string name)
    {
        var a = ModelZoo.Create(name, seed: 1).Graph.Initializers;
        var b = ModelZoo.Create(name, seed: 2).Graph.Initializers;

        Assert.Equal(a.Select(v => v.Name), b.Select(v => v.Name));
        Assert.False(a[0].Const!.Bytes.SequenceEqual(b[0].Const!.Bytes), $"{a[0].Name} is the same for seeds 1 and 2");
    }

    [Fact]
    public void UnknownName_ListsTheNames()
    {
        var e = Assert.Throws<OptionsException>(() => ModelZoo.Create("alexnet"));

        Assert.Contains("'alexnet'", e.Message);
        Assert.NotEmpty(ModelZoo.Names);
        Assert.All(ModelZoo.Names, n => Assert.Contains(n, e.Message));
    }
}
