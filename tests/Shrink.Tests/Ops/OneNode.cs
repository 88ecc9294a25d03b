using Shrink.Ir;
using Shrink.Ops;
using Shrink.Runtime;
using Xunit;

namespace Shrink.Tests.Ops;

/// <summary>
/// A model of one node, for op-level shape tests: <c>AssertInfers</c> checks the inferred output
/// shape and, when every input shape is fixed, that ONNX Runtime produces the same shape.
/// </summary>
internal static class OneNode
{
    /// <summary>A float32 graph input of a fixed shape.</summary>
    public static Value In(params long[] dims) => new("x", DataType.Float, Shape.Of(dims));

    /// <summary>A float32 graph input with a symbolic first axis <c>N</c>.</summary>
    public static Value Batched(params long[] rest) => new("x", DataType.Float, new Shape(new[] { Dim.Symbol("N") }.Concat(rest.Select(Dim.Of))));

    /// <summary>A constant int64 vector (an initializer).</summary>
    public static Value Ints(params long[] values) => IntTensor(new long[] { values.Length }, values);

    /// <summary>A constant int64 tensor of any shape (an initializer).</summary>
    public static Value IntTensor(long[] dims, params long[] values)
    {
        var t = Tensor.FromInt64s("c", dims, values);
        return new Value("c", DataType.Int64, t.Shape) { Const = t };
    }

    /// <summary>Builds the model: inputs named in0, in1, ...; the node's single output is <c>out</c>.</summary>
    public static (Model Model, Node Node) Build(string op, Value?[] inputs, Shrink.Ir.Attribute[] attributes, long opset = 17)
    {
        var g = new Graph("one");
        var node = new Node(op, "", "n");
        for (var i = 0; i < inputs.Length; i++)
        {
            if (inputs[i] is { } v)
            {
                v.Name = $"in{i}";
                if (v.Const is { } t) { t.Name = v.Name; g.Initializers.Add(v); } else g.Inputs.Add(v);
            }
            node.AddInput(inputs[i]);
        }
        node.Attributes.AddRange(attributes);
        g.Outputs.Add(node.AddOutput(new Value("out"))!);
        g.AddNode(node);
        var model = new Model(g);
        model.SetOpset("", opset);
        return (model, node);
    }

    public static void AssertInfers(Shape expected, string op, Value?[] inputs, params Shrink.Ir.Attribute[] attributes) =>
        AssertInfers(expected, 17, op, inputs, attributes);

    public static void AssertInfers(Shape expected, long opset, string op, Value?[] inputs, params Shrink.Ir.Attribute[] attributes)
    {
        var (model, node) = Build(op, inputs, attributes, opset);
        var report = ShapeInference.Run(model);
        Assert.Empty(report.Problems);
        var output = node.Outputs[0]!;
        Assert.Equal(expected, output.Shape);
        if (!model.Graph.Inputs.All(v => v.Shape!.IsFullyKnown)) return;
        output.Shape = null;  // let ONNX Runtime work the shape out on its own
        using var runner = OnnxRunner.FromModel(model, new RunnerOptions { Threads = 1 });
        var actual = runner.Run(runner.RandomInputs(1))[0].Shape;
        Assert.True(expected.ToArray().SequenceEqual(actual), $"ONNX Runtime gives [{string.Join(",", actual)}], inference {expected}");
    }
}
