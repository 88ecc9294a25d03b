using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Builder;

/// <summary>
/// Builds networks in C# as ONNX graphs in the IR, with seeded PyTorch-style initialization
/// (Kaiming-uniform weights, U(−1/√fan_in, 1/√fan_in) biases). Shapes are inferred as each layer is
/// added, so a layer knows its input size. Used by the model zoo and by architecture search.
/// </summary>
/// <example><code>
/// var b = new NetworkBuilder("mlp", seed: 0);
/// var x = b.Flatten(b.Input("input", 1, 28, 28));
/// x = b.Relu(b.Linear(x, 100));
/// b.Output(b.Linear(x, 10), "output");
/// Model model = b.Build();
/// </code></example>
public sealed partial class NetworkBuilder
{
    private readonly Model _model;
    private readonly Graph _graph;
    private readonly Random _random;
    private readonly Dictionary<string, int> _counters = new();

    /// <param name="name">Graph name.</param>
    /// <param name="seed">Seed for weight initialization.</param>
    /// <param name="opset">Default-domain opset (17 by default; Gelu is native from 20 and decomposed below).</param>
    public NetworkBuilder(string name, int seed = 0, int opset = 17)
    {
        if (opset is < 13 or > 22) throw new ArgumentOutOfRangeException(nameof(opset), opset, "opset must be 13..22");
        _graph = new Graph(name);
        _model = new Model(_graph) { IrVersion = 8, ProducerName = "shrink", ProducerVersion = typeof(NetworkBuilder).Assembly.GetName().Version?.ToString(3) };
        _model.SetOpset("", opset);
        _random = new Random(seed);
    }

    public int Opset => (int)_model.DefaultOpset;

    /// <summary>Adds a float32 graph input of shape [batch, dims...] with a symbolic batch axis <c>N</c>.</summary>
    public Value Input(string name, params long[] dims)
    {
        var v = new Value(name, DataType.Float, new Shape(new[] { Dim.Symbol("N") }.Concat(dims.Select(Dim.Of))));
        _graph.Inputs.Add(v);
        return v;
    }

    /// <summary>Marks <paramref name="value"/> as a graph output, renaming it to <paramref name="name"/>.</summary>
    public void Output(Value value, string name = "output")
    {
        value.Name = name;
        _graph.Outputs.Add(value);
    }

    /// <summary>Sets a metadata entry on the model.</summary>
    public void Metadata(string key, string value) => _model.SetMetadata(key, value);

    /// <summary>Validates and returns the model. The builder must not be used afterwards.</summary>
    public Model Build()
    {
        if (_graph.Outputs.Count == 0) throw new InvalidOperationException("the network has no output; call Output first");
        GraphValidator.EnsureValid(_model, new ValidationOptions { RequireKnownOps = true });
        return _model;
    }

    /// <summary>Adds a node with one output, infers its shape, and returns the output.</summary>
    public Value Op(string opType, IEnumerable<Value?> inputs, params Ir.Attribute[] attributes)
    {
        var name = NextName(opType.ToLowerInvariant());
        var node = new Node(opType, "", name);
        foreach (var i in inputs) node.AddInput(i);
        node.Attributes.AddRange(attributes);
        var output = node.AddOutput(new Value(name + "_out"))!;
        _graph.AddNode(node);
        Infer(node);
        return output;
    }

    /// <summary>A constant initializer named after its layer.</summary>
    public Value Constant(string name, Tensor tensor)
    {
        tensor.Name = name;
        return _graph.AddInitializer(tensor);
    }

    private void Infer(Node node)
    {
        var problems = new List<string>();
        var schema = OpRegistry.Find("", node.OpType, Opset) ?? throw new InvalidOperationException($"no schema for {node.OpType}");
        schema.Infer(new InferenceContext(node, Opset, new Dictionary<Value, Dim[]>(), problems));
        if (problems.Count > 0) throw new ArgumentException(problems[0]);
    }

    private string NextName(string prefix)
    {
        _counters[prefix] = _counters.GetValueOrDefault(prefix) + 1;
        return $"{prefix}{_counters[prefix]}";
    }

    private Tensor Uniform(long[] dims, double bound)
    {
        var n = dims.Aggregate(1L, (a, d) => a * d);
        var data = new float[n];
        for (var i = 0; i < n; i++) data[i] = (float)((_random.NextDouble() * 2 - 1) * bound);
        return Tensor.FromFloats("w", dims, data);
    }

    private static Tensor Filled(long[] dims, float value) =>
        Tensor.FromFloats("c", dims, Enumerable.Repeat(value, (int)dims.Aggregate(1L, (a, d) => a * d)).ToArray());

    private long Channels(Value x, int axis = 1) =>
        x.Shape is { } s && s.Rank > axis && s[axis].IsKnown ? s[axis].Value!.Value
            : throw new ArgumentException($"'{x.Name}' has unknown size on axis {axis} ({x.TypeString})");
}
