using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Ops;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;
using static Shrink.Tests.Ops.OneNode;
using A = Shrink.Ir.Attribute;

namespace Shrink.Tests.Ops;

/// <summary>Inferred shapes of every value in the corpus agree with the shapes ONNX Runtime computes.</summary>
public class ShapeInferenceTests
{
    public static TheoryData<string> Zoo => TestModels.Zoo;
    public static TheoryData<string> Torch => TestModels.Torch;

    [Theory]
    [MemberData(nameof(Zoo))]
    public void ZooModel_ShapesMatchOnnxRuntime(string name)
    {
        var model = CheckAgainstOnnxRuntime(OnnxWriter.ToBytes(ModelZoo.Create(name)), null);

        Assert.NotEmpty(NodeOutputs(model));
        Assert.All(NodeOutputs(model), v => Assert.True(IsResolved(v.Shape, "N"), $"{v.Name}: {v.Shape}"));
    }

    [Theory]
    [MemberData(nameof(Torch))]
    public void TorchModel_ShapesMatchOnnxRuntime(string name)
    {
        var (data, shape) = TestModels.TorchArray(name, "input");

        var model = CheckAgainstOnnxRuntime(File.ReadAllBytes(TestModels.TorchPath(name)), new HostTensor("input", data, shape));

        var output = model.Graph.Outputs[0];
        Assert.True(IsResolved(output.Shape, "batch") && output.Shape![1].Value == 10, $"final output {output.Shape}");
    }

    [Fact]
    public void LenetFmnist_ReshapeAfterTheShapeChainIsResolved()
    {
        var model = OnnxReader.Read(TestModels.TorchPath("lenet_fmnist"));

        ShapeInference.Run(model);

        var reshape = Assert.Single(model.Graph.Nodes, n => n.OpType == "Reshape");
        Assert.Equal(new Shape(new[] { Dim.Symbol("batch"), Dim.Of(256) }), reshape.Outputs[0]!.Shape);
    }

    [Fact]
    public void UnknownOps_KeepTheirDeclaredOutputs()
    {
        var g = new Graph("g");
        var x = new Value("x", DataType.Float, Shape.Of(2, 3));
        g.Inputs.Add(x);
        var mystery = new Node("Mystery", "com.example", "mystery").AddInput(x);
        var declared = mystery.AddOutput(new Value("m", DataType.Float, Shape.Of(7)))!;
        var undeclared = mystery.AddOutput(new Value("u"))!;
        var relu = new Node("Relu", "", "relu").AddInput(declared);
        var neg = new Node("NotAnOnnxOp", "", "neg").AddInput(undeclared);
        g.Outputs.Add(relu.AddOutput(new Value("r"))!);
        g.Outputs.Add(neg.AddOutput(new Value("n"))!);
        foreach (var n in new[] { mystery, relu, neg }) g.AddNode(n);
        var model = new Model(g);
        model.SetOpset("", 17);

        var report = ShapeInference.Run(model);

        Assert.Empty(report.Problems);
        Assert.Equal(new[] { "mystery", "neg" }, report.UnknownOpNodes.Select(n => n.Name));
        Assert.Equal(Shape.Of(7), declared.Shape);
        Assert.Equal(Shape.Of(7), g.Outputs[0].Shape);
        Assert.Null(undeclared.Shape);
        Assert.Null(g.Outputs[1].Shape);
    }

    public static TheoryData<string, Value?[], A[]> HostileNodes => new()
    {
        { "Conv", new[] { In(1, 3, 8, 8), In(4, 3, 3, 3) }, new[] { A.Ints("strides", 0, 0) } },
        { "Conv", new[] { In(1, 3, 8, 8), In(4, 3, 3, 3) }, new[] { A.Ints("pads", 1), A.Ints("strides", 1) } },
        { "MaxPool", new[] { In(1, 3, 8, 8) }, new[] { A.Ints("kernel_shape", 2, 2), A.Ints("strides", 0, 0), A.Int("ceil_mode", 1) } },
        { "Transpose", new[] { In(2, 3) }, new[] { A.Ints("perm", 0, 5) } },
        { "Flatten", new[] { In(2, 3) }, new[] { A.Int("axis", 9) } },
        { "Concat", new[] { In(2, 3), In(2, 3) }, new[] { A.Int("axis", 7) } },
        { "Gather", new[] { In(2, 3), Ints(0) }, new[] { A.Int("axis", -9) } },
        { "Reshape", new[] { In(2, 3), Ints(-1, -1) }, Array.Empty<A>() },
        { "Reshape", new[] { In(2, 3), Ints(0, 0, 0, 0) }, Array.Empty<A>() },
        { "Split", new[] { In(2, 3) }, new[] { A.Int("axis", 4) } },
        { "Unsqueeze", new[] { In(2, 3), Ints(9) }, Array.Empty<A>() },
        { "Slice", new[] { In(2, 3), Ints(0), Ints(1), Ints(5) }, Array.Empty<A>() },
        { "ReduceMean", new[] { In(2, 3) }, new[] { A.Ints("axes", 12) } },
        { "Gemm", new[] { In(2, 3, 4), In(4, 5) }, Array.Empty<A>() },
    };

    /// <summary>Bad attributes are problems for the validator to report, never exceptions out of inference.</summary>
    [Theory]
    [MemberData(nameof(HostileNodes))]
    public void BadAttributes_NeverThrow(string op, Value?[] inputs, A[] attributes)
    {
        var (model, _) = Build(op, inputs, attributes);

        var problems = GraphValidator.Validate(model);

        Assert.NotEmpty(problems);  // every hostile node is reported, not only left unresolved
        Assert.All(problems, p => Assert.Contains("'n'", p));
    }

    /// <summary>Runs inference on one copy; on another, makes every node output a graph output and runs ONNX Runtime.</summary>
    private static Model CheckAgainstOnnxRuntime(byte[] bytes, HostTensor? input)
    {
        var model = OnnxReader.Read(bytes);
        foreach (var o in model.Graph.Outputs) o.Shape = null;  // infer the outputs too, not just keep what the file says
        var report = ShapeInference.Run(model);
        Assert.Empty(report.Problems);
        Assert.Empty(report.UnknownOpNodes);
        var inferred = NodeOutputs(model).Where(v => v.Shape is not null).ToDictionary(v => v.Name);

        var probe = OnnxReader.Read(bytes);
        foreach (var v in NodeOutputs(probe).Where(v => inferred.ContainsKey(v.Name) && !probe.Graph.Outputs.Contains(v)))
        {
            v.ElementType = inferred[v.Name].ElementType;
            probe.Graph.Outputs.Add(v);
        }
        using var runner = OnnxRunner.FromModel(probe, new RunnerOptions { Threads = 1 });
        var inputs = input is null ? runner.RandomInputs(2) : new[] { input };
        var symbols = BindSymbols(model.Graph.Inputs, inputs);
        foreach (var result in runner.Run(inputs))
            AssertSameShape(result.Name, inferred[result.Name].Shape!, result.Shape, symbols);
        Assert.True(inferred.Count >= model.Graph.Nodes.Count * 3 / 4, $"only {inferred.Count} of {model.Graph.Nodes.Count} node outputs have shapes");
        return model;
    }

    private static Dictionary<string, long> BindSymbols(IEnumerable<Value> specs, IReadOnlyList<HostTensor> inputs)
    {
        var symbols = new Dictionary<string, long>();
        foreach (var spec in specs)
            foreach (var (dim, size) in spec.Shape!.Dims.Zip(inputs.Single(i => i.Name == spec.Name).Shape))
                if (dim.Param is { } p) symbols[p] = size;
        return symbols;
    }

    /// <summary>Known dims must equal ONNX Runtime's; a symbol must always stand for the same size (the batch for the input's batch symbol).</summary>
    private static void AssertSameShape(string name, Shape inferred, long[] actual, Dictionary<string, long> symbols)
    {
        var message = $"'{name}': inferred {inferred}, ONNX Runtime [{string.Join(",", actual)}]";
        Assert.True(inferred.Rank == actual.Length, message);
        for (var i = 0; i < actual.Length; i++)
        {
            var d = inferred[i];
            if (d.Value is { } known) Assert.True(known == actual[i], message);
            else if (d.Param is { } p && symbols.TryGetValue(p, out var bound)) Assert.True(bound == actual[i], message + $" ('{p}' is {bound})");
            else if (d.Param is { } q) symbols[q] = actual[i];
        }
    }

    private static IEnumerable<Value> NodeOutputs(Model m) => m.Graph.Nodes.SelectMany(n => n.Outputs).OfType<Value>();

    /// <summary>Fully known except a leading batch symbol.</summary>
    private static bool IsResolved(Shape? s, string batch) =>
        s is not null && s.Dims.Select((d, i) => d.IsKnown || (i == 0 && d.Param == batch)).All(ok => ok);
}
