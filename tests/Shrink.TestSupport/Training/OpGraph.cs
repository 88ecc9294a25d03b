using Shrink.Ir;
using Shrink.Runtime;
using Shrink.Training.Execution;
using TorchSharp;
using Xunit;
using Attribute = Shrink.Ir.Attribute;
using IrTensor = Shrink.Ir.Tensor;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.TestSupport;

/// <summary>A small ONNX graph built in code with seeded random feeds, for op-by-op checks of the executor.</summary>
internal sealed class OpGraph
{
    private readonly Graph _graph = new("ops");
    private readonly List<HostTensor> _feeds = new();
    private readonly Random _random;
    private readonly long _opset;
    private int _next;

    public OpGraph(long opset, int seed = 1)
    {
        _opset = opset;
        _random = new Random(seed);
    }

    /// <summary>The graph inputs' values, in order.</summary>
    public IReadOnlyList<HostTensor> Feeds => _feeds;

    /// <summary>A float graph input of a fixed shape fed with N(0, scale²) values.</summary>
    public Value Input(params long[] shape) => Input(shape, 1f);

    public Value Input(long[] shape, float scale)
    {
        var count = (int)shape.Aggregate(1L, (a, b) => a * b);
        var data = Enumerable.Range(0, count).Select(_ => scale * Gaussian()).ToArray();
        return Input(new HostTensor($"in{_feeds.Count}", data, shape), DataType.Float);
    }

    /// <summary>A graph input fed with the given tensor.</summary>
    public Value Input(HostTensor feed, DataType type)
    {
        var v = new Value(feed.Name, type, Shape.Of(feed.Shape));
        _graph.Inputs.Add(v);
        _feeds.Add(feed);
        return v;
    }

    /// <summary>A float initializer of N(0, 1) values.</summary>
    public Value RandomFloats(params long[] dims) =>
        Floats(dims, Enumerable.Range(0, (int)dims.Aggregate(1L, (a, b) => a * b)).Select(_ => Gaussian()).ToArray());

    public Value Floats(long[] dims, float[] values) => Initializer(IrTensor.FromFloats(Name("f"), dims, values));

    /// <summary>A 1-D float initializer.</summary>
    public Value Floats(params float[] values) => Floats(new long[] { values.Length }, values);

    /// <summary>A 1-D int64 initializer.</summary>
    public Value Ints(params long[] values) => Initializer(IrTensor.FromInt64s(Name("i"), new long[] { values.Length }, values));

    /// <summary>A rank-0 float initializer.</summary>
    public Value Scalar(float value) => Initializer(IrTensor.FromFloats(Name("s"), Array.Empty<long>(), new[] { value }));

    private Value Initializer(IrTensor t)
    {
        var v = new Value(t.Name, t.DataType, Shape.Of(t.Dims)) { Const = t };
        _graph.Initializers.Add(v);
        return v;
    }

    /// <summary>A node; its first output, of element type <paramref name="type"/>. A null input is an omitted optional one.</summary>
    public Value Op(string opType, Value?[] inputs, DataType type, params Attribute[] attributes)
    {
        var node = _graph.AddNode(new Node(opType, name: Name(opType)));
        foreach (var input in inputs) node.AddInput(input);
        foreach (var a in attributes) node.SetAttribute(a);
        return node.AddOutput(new Value(Name("v"), type))!;
    }

    public Value Op(string opType, Value?[] inputs, params Attribute[] attributes) => Op(opType, inputs, DataType.Float, attributes);

    public Value Op(string opType, Value input, params Attribute[] attributes) => Op(opType, new[] { input }, attributes);

    /// <summary>The model whose outputs are <paramref name="outputs"/>.</summary>
    public Model Build(params Value[] outputs)
    {
        _graph.Outputs.AddRange(outputs);
        var model = new Model(_graph);
        model.SetOpset("", _opset);
        return model;
    }

    private string Name(string prefix) => $"{prefix}{_next++}";

    private float Gaussian() =>
        (float)(Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble()));
}

/// <summary>Checks of the executor against ONNX Runtime on the same model and feeds, and of its gradients.</summary>
internal static class OpParity
{
    /// <summary>
    /// Every output of the executor against ONNX Runtime's: equal shapes, and the largest difference at most
    /// <paramref name="tolerance"/> of the output's largest magnitude (0 for ops that only move values).
    /// </summary>
    public static void AssertMatches(Model model, IReadOnlyList<HostTensor> feeds, double tolerance, string what = "")
    {
        var expected = RunOnnxRuntime(model, feeds);
        var actual = RunExecutor(model, feeds);
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].Shape.SequenceEqual(actual[i].Shape),
                $"{what} output {i}: shape [{string.Join(",", actual[i].Shape)}], ONNX Runtime [{string.Join(",", expected[i].Shape)}]");
            AssertClose(Doubles(expected[i].Data), Doubles(actual[i].Data), tolerance, $"{what} output {i}");
        }
    }

    public static IReadOnlyList<HostTensor> RunOnnxRuntime(Model model, IReadOnlyList<HostTensor> feeds)
    {
        using var runner = OnnxRunner.FromModel(model, new RunnerOptions { Threads = 1 });
        return runner.Run(feeds);
    }

    public static IReadOnlyList<HostTensor> RunExecutor(Model model, IReadOnlyList<HostTensor> feeds)
    {
        using var ex = GraphExecutor.Compile(model);
        using var scope = torch.NewDisposeScope();
        var outputs = ex.Forward(feeds.Select(TorchTensors.FromHost).ToArray());
        return outputs.Select((t, i) => TorchTensors.ToHost(ex.Outputs[i].Name, t)).ToList();
    }

    public static void AssertClose(double[] expected, double[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        if (expected.Length == 0) return;
        var scale = Math.Max(1e-6, expected.Max(Math.Abs));
        var worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second)) / scale;
        Assert.True(worst <= tolerance, $"{what}: largest difference {worst:E2} of the output's scale (tolerance {tolerance:E0})");
    }

    private static double[] Doubles(Array a) => a.Cast<object>().Select(Convert.ToDouble).ToArray();

    /// <summary>
    /// Autograd against central differences: for L = Σ y·r with r a fixed random tensor, the derivative of L along a
    /// random direction d of graph input <paramref name="input"/> must equal ⟨∂L/∂x, d⟩ within <paramref name="tolerance"/>
    /// of max(1, |⟨∂L/∂x, d⟩|). L is summed in float64; ε = <paramref name="eps"/>.
    /// </summary>
    public static void AssertInputGradient(Model model, IReadOnlyList<HostTensor> feeds, int input = 0, double eps = 1e-2, double tolerance = 1e-3)
    {
        using var ex = GraphExecutor.Compile(model);
        using var scope = torch.NewDisposeScope();
        var xs = feeds.Select(TorchTensors.FromHost).ToArray();
        var x = xs[input].requires_grad_(true);
        var y = ex.Forward(xs)[0];
        var r = Random(y.shape, 11);
        y.to_type(torch.ScalarType.Float64).mul(r).sum().backward();
        Assert.NotNull(x.grad);
        var d = Random(x.shape, 12).to_type(x.dtype);
        var analytic = x.grad!.to_type(torch.ScalarType.Float64).mul(d).sum().item<double>();
        double Loss(double step)
        {
            using var _ = torch.no_grad();
            using var alpha = step.ToScalar();
            var moved = (Tensor[])xs.Clone();
            moved[input] = x.detach().add(d, alpha);
            return ex.Forward(moved)[0].to_type(torch.ScalarType.Float64).mul(r).sum().item<double>();
        }
        var numeric = (Loss(eps) - Loss(-eps)) / (2 * eps);
        Assert.True(Math.Abs(numeric - analytic) <= tolerance * Math.Max(1, Math.Abs(analytic)),
            $"gradient along a random direction: autograd {analytic:G6}, central differences {numeric:G6}");
    }

    /// <summary>As <see cref="AssertInputGradient"/>, along a random direction of the executor's parameter <paramref name="name"/>.</summary>
    public static void AssertParameterGradient(Model model, IReadOnlyList<HostTensor> feeds, string name, double eps = 1e-2, double tolerance = 1e-3)
    {
        using var ex = GraphExecutor.Compile(model);
        using var scope = torch.NewDisposeScope();
        var xs = feeds.Select(TorchTensors.FromHost).ToArray();
        var p = ex.FindParameter(name)!.Tensor;
        var y = ex.Forward(xs)[0];
        var r = Random(y.shape, 13);
        y.to_type(torch.ScalarType.Float64).mul(r).sum().backward();
        Assert.NotNull(p.grad);
        var d = Random(p.shape, 14).to_type(p.dtype);
        var analytic = p.grad!.to_type(torch.ScalarType.Float64).mul(d).sum().item<double>();
        double Loss(double step)
        {
            using var _ = torch.no_grad();
            using var alpha = step.ToScalar();
            using var minus = (-step).ToScalar();
            p.add_(d, alpha);
            var loss = ex.Forward(xs)[0].to_type(torch.ScalarType.Float64).mul(r).sum().item<double>();
            p.add_(d, minus);
            return loss;
        }
        var numeric = (Loss(eps) - Loss(-eps)) / (2 * eps);
        Assert.True(Math.Abs(numeric - analytic) <= tolerance * Math.Max(1, Math.Abs(analytic)),
            $"gradient of '{name}' along a random direction: autograd {analytic:G6}, central differences {numeric:G6}");
    }

    private static Tensor Random(long[] shape, int seed)
    {
        var random = new Random(seed);
        var count = (int)shape.Aggregate(1L, (a, b) => a * b);
        return torch.tensor(Enumerable.Range(0, count).Select(_ => random.NextDouble() * 2 - 1).ToArray(), shape);
    }
}
