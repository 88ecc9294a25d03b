using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes.Deployment;
using Shrink.Runtime;
using Shrink.Runtime.Split;
using Shrink.TestSupport;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Deployment;

/// <summary>
/// The <c>split</c> pass and the sequential runner: parts written, each loading in ONNX Runtime alone, the runner's
/// outputs equal to the whole model's bit for bit (both without layout optimizations, same seeded inputs), the bounds
/// held, and the refusals.
/// </summary>
public class SplitPassTests
{
    private static readonly RunnerOptions Exact = new() { LayoutOptimizations = false };

    public static TheoryData<string, int> ZooParts => new() { { "lenet300", 2 }, { "lenet5", 3 }, { "vgg-small", 3 }, { "resnet-small", 4 } };

    [Theory]
    [MemberData(nameof(ZooParts))]
    public void ZooModelsSplitIntoPartsOfSimilarWeightThatReproduceTheWholeBitForBit(string name, int parts)
    {
        var model = ModelZoo.Create(name);
        var plan = new SplitPass(new SplitOptions { Parts = parts }).Plan(model);
        Assert.Equal(parts, plan.Parts.Count);
        Assert.All(plan.Parts, p => Assert.True(p.WeightBytes <= plan.Bound, $"part {p.FirstNode}..{p.LastNode}: {p.WeightBytes} bytes over {plan.Bound}"));
        Assert.Equal(0, plan.FusedCuts);
        AssertSplitEqualsWhole(model, plan, batch: 3);
    }

    [Theory]
    [InlineData("resnet18", 5)]
    [InlineData("densenet121", 6)]
    [InlineData("googlenet", 6)]
    public void RealExportsSplitIntoPartsThatReproduceTheWholeBitForBit(string name, int parts)
    {
        var model = OnnxReader.Read(Corpus.ModelPath(name, "realbn"));
        var plan = new SplitPass(new SplitOptions { Parts = parts }).Plan(model);
        Assert.Equal(parts, plan.Parts.Count);
        AssertSplitEqualsWhole(model, plan, batch: 2);
    }

    [Theory]
    [InlineData("googlenet")]
    [InlineData("densenet121")]
    public void CutsInsideInceptionAndDenseBlocksCarrySeveralTensorsAndStillReproduceTheWhole(string name)
    {
        var model = OnnxReader.Read(Corpus.ModelPath(name, "random"));
        var largest = SplitAnalysis.Of(model, 1) is var a ? Enumerable.Range(0, a.Order.Count).Max(i => a.WeightBytes(i, i)) : 0;
        var plan = new SplitPass(new SplitOptions { MaxPartBytes = largest }).Plan(model);
        Assert.All(plan.Parts, p => Assert.True(p.WeightBytes <= largest));
        var carried = plan.Parts.Skip(1).Max(p => p.Inputs.Count(i => plan.Boundary.Any(t => t.Name == i && t.FromPart >= 0)));
        Assert.True(carried >= 2, $"{name}: no cut of {plan.Parts.Count} parts carries more than one tensor");
        AssertSplitEqualsWhole(model, plan, batch: 2);
    }

    [Fact]
    public void WithLayoutOptimizationsThePartsAgreeWithinAFewUlps()
    {
        var model = OnnxReader.Read(Corpus.ModelPath("resnet18", "realbn"));
        using var dir = new TempDirectory();
        SplitWriter.Write(model, new SplitPass(new SplitOptions { Parts = 4 }).Plan(model), dir.Path);
        using var whole = OnnxRunner.FromModel(model);
        var inputs = whole.RandomInputs(2, seed: 3);
        using var runner = SequentialRunner.Open(dir.File(SplitManifest.FileName));
        Parity.AssertClose((float[])whole.Run(inputs)[0].Data, (float[])runner.Run(inputs)[0].Data, "resnet18 in 4 parts, ORT_ENABLE_ALL");
    }

    [Fact]
    public void SharedWeightsAreCopiedIntoEachPartAndGraphInputsPassThroughToLaterParts()
    {
        var model = SharedWeightModel();
        var plan = new SplitPass(new SplitOptions { Parts = 2 }).Plan(model);
        Assert.Equal(new[] { "x" }, plan.Parts[0].Inputs);
        Assert.Equal(new[] { "h", "x" }, plan.Parts[1].Inputs.Order());
        Assert.Equal(new[] { 0, 1 }, plan.Boundary.Single(t => t.Name == "x" && t.FromPart == -1).ToParts);
        var first = ModelParts.Extract(model, plan, 0);
        var second = ModelParts.Extract(model, plan, 1);
        Assert.Equal(new[] { "w" }, first.Graph.Initializers.Select(v => v.Name));
        Assert.Equal(new[] { "w" }, second.Graph.Initializers.Select(v => v.Name));
        Assert.Equal(256, plan.Parts[0].WeightBytes);
        Assert.Equal("2/2", second.Metadata.Single(kv => kv.Key == "shrink.split.part").Value);
        AssertSplitEqualsWhole(model, plan, batch: 2);
    }

    [Fact]
    public void CastsOfHalfPrecisionWeightsAreCopiedIntoThePartThatReadsThemNotPassedBetweenParts()
    {
        // convert-precision stores each weight in float16 behind a Cast to float32: the Cast's output is a weight, not an activation.
        var model = new Shrink.Passes.Precision.HalfPrecisionPass(new Shrink.Passes.Precision.PrecisionOptions()).Run(ModelZoo.Create("lenet5"), new Shrink.Passes.PassContext()).Model;
        var plan = new SplitPass(new SplitOptions { MaxPartBytes = 820 * 1024 }).Plan(model);
        Assert.Equal(2, plan.Parts.Count);
        var crossing = Assert.Single(plan.Boundary, t => t.FromPart >= 0);   // the activation at the cut only
        Assert.Equal("float32", crossing.ElementType);
        Assert.True(crossing.Bytes < 10_000, $"{crossing.Name}: {crossing.Bytes} bytes");
        // Weights count at their stored 16 bits: fc1's 400,000 + 500 values are 801,000 bytes.
        Assert.InRange(plan.Parts.Max(p => p.WeightBytes), 801_000, 820 * 1024);
        AssertSplitEqualsWhole(model, plan, batch: 2);
    }

    [Fact]
    public void EveryPartStaysUnderTheWeightBound()
    {
        var model = ModelZoo.Create("vgg-small");
        var plan = new SplitPass(new SplitOptions { MaxPartBytes = 1_200_000 }).Plan(model);
        Assert.True(plan.Parts.Count >= 2);
        Assert.All(plan.Parts, p => Assert.InRange(p.WeightBytes, 0, 1_200_000));
        Assert.Equal(("weights", 1_200_000L), (plan.BoundKind, plan.Bound!.Value));
    }

    [Fact]
    public void EveryPartStaysUnderTheMemoryBoundAtTheBatchSize()
    {
        var model = ModelZoo.Create("resnet-small");
        var analysis = SplitAnalysis.Of(model, 8);
        var whole = analysis.WeightBytes(0, analysis.Order.Count - 1) + analysis.PeakActivationBytes(0, analysis.Order.Count - 1);
        var largest = Enumerable.Range(0, analysis.Order.Count).Max(i => analysis.WeightBytes(i, i) + analysis.PeakActivationBytes(i, i));
        var bound = Math.Max(largest, whole * 2 / 3);
        Assert.True(bound < whole);
        var plan = new SplitPass(new SplitOptions { MaxPartMemory = bound, Batch = 8 }).Plan(model);
        Assert.True(plan.Parts.Count >= 2);
        Assert.All(plan.Parts, p => Assert.InRange(p.WeightBytes + p.PeakActivationBytes, 1, bound));
        // The peak of a part is at least what its largest node reads and writes at batch 8: conv1's 16×28×28 float output is 401,408 bytes.
        Assert.True(plan.Parts[0].PeakActivationBytes >= 8 * 16 * 28 * 28 * 4);
    }

    [Fact]
    public void ABoundUnderTheLargestLayerIsRefusedNamingTheLayerAndItsBytes()
    {
        var model = ModelZoo.Create("lenet300");
        var e = Assert.Throws<OptionsException>(() => new SplitPass(new SplitOptions { MaxPartBytes = 1000 }).Plan(model));
        Assert.Equal("MaxPartBytes", e.Option);
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(e.Message, @"^max part bytes is 1000 bytes, smaller than layer '[^']+' \(Gemm\), whose weights take 942000 bytes; give at least 942000 bytes$"), e.Message);
    }

    [Fact]
    public void MorePartsThanNodesAreRefused()
    {
        var model = ModelZoo.Create("lenet300");
        var nodes = SplitAnalysis.Of(model, 1).Order.Count;
        var e = Assert.Throws<OptionsException>(() => new SplitPass(new SplitOptions { Parts = nodes + 1 }).Plan(model));
        Assert.Equal($"parts is {nodes + 1}, more than the {nodes} nodes of the model (Constant nodes not counted); give at most {nodes}", e.Message);
    }

    [Fact]
    public void TwoBoundsAtOnceAreRefused() =>
        Assert.Throws<OptionsException>(() => new SplitOptions { Parts = 2, MaxPartBytes = 10 }.Validate());

    [Fact]
    public void APartChangedAfterTheSplitIsRefusedWhenTheManifestIsOpened()
    {
        var model = ModelZoo.Create("lenet5");
        using var dir = new TempDirectory();
        var manifest = SplitWriter.Write(model, new SplitPass(new SplitOptions { Parts = 2 }).Plan(model), dir.Path);
        var part = dir.File(manifest.Parts[1].File);
        var bytes = File.ReadAllBytes(part);
        bytes[^1] ^= 1;
        File.WriteAllBytes(part, bytes);
        var e = Assert.Throws<ModelFormatException>(() => SequentialRunner.Open(dir.File(SplitManifest.FileName)));
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(e.Message, @"part 2 'part-02\.onnx' has SHA-256 [0-9a-f]{16}…, but the manifest records [0-9a-f]{16}…; the part was changed or replaced after the split$"), e.Message);
    }

    [Fact]
    public void ResidentPartsStayLoadedAcrossRunsAndGiveTheSameOutputs()
    {
        var model = ModelZoo.Create("lenet5");
        using var dir = new TempDirectory();
        SplitWriter.Write(model, new SplitPass(new SplitOptions { Parts = 3 }).Plan(model), dir.Path);
        using var runner = SequentialRunner.Open(dir.File(SplitManifest.FileName), new SequentialRunnerOptions { Resident = 3 });
        using var whole = OnnxRunner.FromModel(model);
        var inputs = whole.RandomInputs(2, seed: 1);
        var first = (float[])runner.Run(inputs)[0].Data;
        Assert.All(runner.LastTimings, t => Assert.True(t.LoadSeconds > 0));
        var second = (float[])runner.Run(inputs)[0].Data;
        Assert.All(runner.LastTimings, t => Assert.Equal(0, t.LoadSeconds, 3));
        Assert.Equal(first, second);
    }

    [Fact]
    public void TheManifestListsPartsHashesAndTheTensorsPassedOn()
    {
        var model = ModelZoo.Create("lenet300");
        using var dir = new TempDirectory();
        var written = SplitWriter.Write(model, new SplitPass(new SplitOptions { Parts = 2 }).Plan(model), dir.Path);
        var read = SplitManifest.Read(dir.File(SplitManifest.FileName));
        Assert.Equal(new[] { "part-01.onnx", "part-02.onnx" }, read.Parts.Select(p => p.File));
        Assert.All(read.Parts, p => Assert.Equal(SplitManifest.Sha256(dir.File(p.File)), p.Sha256));
        var passed = Assert.Single(read.Tensors, t => t.FromPart == 0);
        Assert.Equal("float32", passed.ElementType);
        Assert.Equal(new[] { 1 }, passed.ToParts);
        Assert.Equal(passed.Name, Assert.Single(read.Parts[1].Inputs));
        Assert.Equal(written.Outputs.Select(o => (o.Name, o.Part)), read.Outputs.Select(o => (o.Name, o.Part)));
        Assert.All(read.Parts, p => OnnxRunner.CheckLoads(dir.File(p.File)));
    }

    private static void AssertSplitEqualsWhole(Model model, SplitPlan plan, int batch)
    {
        using var dir = new TempDirectory();
        var manifest = SplitWriter.Write(model, plan, dir.Path);
        Assert.Equal(plan.Parts.Count, manifest.Parts.Count);
        using var whole = OnnxRunner.FromModel(model, Exact);
        var inputs = whole.RandomInputs(batch, seed: 7);
        var expected = whole.Run(inputs);
        using var runner = SequentialRunner.Open(dir.File(SplitManifest.FileName), new SequentialRunnerOptions { Runner = Exact });
        var actual = runner.Run(inputs);
        Assert.Equal(expected.Select(e => e.Name), actual.Select(a => a.Name));
        foreach (var (e, a) in expected.Zip(actual))
        {
            Assert.Equal(e.Shape, a.Shape);
            Assert.Equal((float[])e.Data, (float[])a.Data);
        }
    }

    /// <summary>x [N,8] → MatMul(w) → Relu → MatMul(w) → + x: one weight read by both layers, the input read again at the end.</summary>
    private static Model SharedWeightModel()
    {
        var g = new Graph("shared");
        var x = new Value("x", DataType.Float, new Shape(new[] { Dim.Symbol("N"), Dim.Of(8) }));
        g.Inputs.Add(x);
        var w = g.AddInitializer(Tensor.FromFloats("w", new long[] { 8, 8 }, Enumerable.Range(0, 64).Select(i => (i % 7 - 3) * 0.25f).ToArray()));
        Value Op(string op, string name, params Value[] inputs)
        {
            var n = new Node(op, name: name);
            foreach (var i in inputs) n.AddInput(i);
            g.AddNode(n);
            return n.AddOutput(new Value(name))!;
        }
        var h = Op("MatMul", "h", x, w);
        var r = Op("Relu", "r", h);
        var m = Op("MatMul", "m", r, w);
        var y = Op("Sum", "y", m, h, x);
        y.ElementType = DataType.Float;
        g.Outputs.Add(y);
        var model = new Model(g);
        model.SetOpset("", 17);
        return model;
    }
}
