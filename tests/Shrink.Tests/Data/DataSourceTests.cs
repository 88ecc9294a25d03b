using Shrink.Data;
using Shrink.Ir;
using Shrink.Runtime;
using Shrink.TestSupport;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Data;

/// <summary>The streaming data contract: reading by index, subsets and seeded splits, and binding a source to a model's inputs.</summary>
public class DataSourceTests
{
    private static InMemorySource Tokens(int n) => new("tokens",
        new[]
        {
            new HostTensor("input_ids", Enumerable.Range(0, n * 3).ToArray(), new long[] { n, 3 }),
            new HostTensor("attention_mask", Enumerable.Repeat(1L, n * 3).ToArray(), new long[] { n, 3 }),
        },
        Enumerable.Range(0, n).Select(i => i % 2).ToArray(), 2);

    /// <summary>A model taking float vectors [batch, <paramref name="width"/>] (an MLP exported without its Flatten).</summary>
    private static Model Vector(int width)
    {
        var g = new Graph("mlp");
        var x = new Value("features", DataType.Float, new Shape(new[] { Dim.Symbol("batch"), Dim.Of(width) }));
        g.Inputs.Add(x);
        var relu = new Node("Relu", "", "relu").AddInput(x);
        relu.AddOutput(new Value("y", DataType.Float));
        g.AddNode(relu);
        g.Outputs.Add(relu.Outputs[0]!);
        return new Model(g);
    }

    [Fact]
    public void Read_StacksTheSamplesInTheOrderGiven_WithTheirLabels()
    {
        var batch = Tokens(4).Read([2, 0]);

        Assert.Equal(2, batch.Count);
        Assert.Equal(new long[] { 2, 3 }, batch.Input("input_ids").Shape);
        Assert.Equal([6, 7, 8, 0, 1, 2], (int[])batch.Input("input_ids").Data);
        Assert.Equal([0, 0], batch.Labels);
    }

    [Fact]
    public void Batches_CoverEverySampleOnce_TheLastBatchSmaller()
    {
        var batches = Tokens(5).Batches(2).ToList();

        Assert.Equal([2, 2, 1], batches.Select(b => b.Count));
        Assert.Equal(Enumerable.Range(0, 15), batches.SelectMany(b => (int[])b.Input("input_ids").Data));
    }

    [Fact]
    public void Split_IsSeededDisjointAndComplete()
    {
        var source = Tokens(20);
        var (train, held) = source.Split(0.25, seed: 7);
        var (train2, _) = source.Split(0.25, seed: 7);
        var (train3, _) = source.Split(0.25, seed: 8);

        int[] Firsts(IDataSource s) => ((int[])s.Read(Enumerable.Range(0, s.Count).ToArray()).Input("input_ids").Data).Where((_, i) => i % 3 == 0).ToArray();
        Assert.Equal((15, 5), (train.Count, held.Count));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => i * 3), Firsts(train).Concat(Firsts(held)).Order());
        Assert.Equal(Firsts(train), Firsts(train2));
        Assert.NotEqual(Firsts(train), Firsts(train3));
    }

    [Fact]
    public void Take_ReadsTheFirstSamples()
    {
        var first = Tokens(10).Take(3);

        Assert.Equal(3, first.Count);
        Assert.Equal([0, 1, 0], first.Read([0, 1, 2]).Labels);
        Assert.Throws<ArgumentOutOfRangeException>(() => first.Read([3]));
    }

    [Fact]
    public void Binding_MatchesByName_AndConvertsInt32TokenIdsToInt64()
    {
        var binding = DataBinding.For(SourceFiles.TokenModel(), Tokens(4));
        var inputs = binding.ModelInputs(Tokens(4).Read([1]));

        Assert.Equal(["input_ids", "attention_mask"], inputs.Select(t => t.Name));
        Assert.Equal([3L, 4, 5], (long[])inputs[0].Data);
        Assert.Null(binding.FixedBatch);
    }

    [Fact]
    public void Binding_RefusesAMissingInput_InOneLineNamingIt()
    {
        var ids = new InMemorySource("ids.npz", new[] { new HostTensor("input_ids", new long[6], new long[] { 2, 3 }) });

        var e = Assert.Throws<DataException>(() => DataBinding.For(SourceFiles.TokenModel(), ids));

        Assert.Equal("ids.npz has no input 'attention_mask' (int64[batch,seq]) that the model takes; it has input_ids; give one array per model input, named like it", e.Message);
    }

    [Fact]
    public void Binding_OneInputEachSide_MatchesWhateverItsName_AndFlattensImagesForAVectorModel()
    {
        var images = InMemorySource.From(new Dataset(new float[2 * 784], [0, 1], [1, 28, 28], 10, "fmnist"));
        var mlp = Vector(784);

        var inputs = DataBinding.For(mlp, images).ModelInputs(images.Read([0, 1]));

        Assert.Equal(mlp.Graph.Inputs[0].Name, Assert.Single(inputs).Name);
        Assert.Equal(new long[] { 2, 784 }, inputs[0].Shape);
        Assert.Null(DataBinding.Misfit(ModelZoo.Create("lenet5"), images));
    }

    [Fact]
    public void Binding_RefusesAWrongShape_SayingWhatTheModelTakesAndWhatTheDataGives()
    {
        var wrong = new InMemorySource("photos", new[] { new HostTensor("image", new float[2 * 3 * 32 * 32], new long[] { 2, 3, 32, 32 }) });

        var reason = DataBinding.Misfit(ModelZoo.Create("lenet5"), wrong, "lenet5.onnx");

        Assert.NotNull(reason);
        Assert.Matches(@"^input '[^']+' of lenet5\.onnx takes float32\[[^\]]*,1,28,28\] but photos gives samples of image: float32\[3,32,32\]; give data of the model's input shape$", reason);
    }

    [Fact]
    public void Labels_OutOfRange_AreRefusedNamingTheSample()
    {
        var e = Assert.Throws<DataException>(() => new InMemorySource("y.npy", new[] { new HostTensor("x", new float[3], new long[] { 3 }) }, [0, 5, 1], 3));

        Assert.Equal("y.npy: label 5 of sample 1 is outside [0, 3); the labels do not match the inputs or the file is corrupt", e.Message);
    }
}
