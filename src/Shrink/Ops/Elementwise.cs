using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>Unary, binary (broadcasting), comparison and normalization ops whose output follows an input's shape.</summary>
internal static class Elementwise
{
    private static readonly string[] Unary =
    {
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu", "Erf", "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal",
        "Softmax", "LogSoftmax", "Identity", "HardSigmoid", "HardSwish", "Elu", "Selu", "Softplus", "Floor", "Ceil",
        "Round", "Sign", "Mish", "Sin", "Cos", "LRN", "InstanceNormalization", "Celu", "ThresholdedRelu",
    };

    private static readonly string[] Binary = { "Add", "Sub", "Mul", "Div", "Pow", "PRelu", "Mod" };
    private static readonly string[] Variadic = { "Max", "Min", "Sum", "Mean" };
    private static readonly string[] Compare = { "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor" };

    /// <summary>Unary ops with f(0) = 0 that structured pruning follows channel by channel.</summary>
    private static readonly HashSet<string> ZeroAtZero = new() { "Relu", "LeakyRelu", "Tanh", "Gelu", "Erf", "Identity", "HardSwish", "Elu" };

    /// <summary>ReLU-like activations: the activation criteria count the zeros after them.</summary>
    private static readonly HashSet<string> Rectifiers = new() { "Relu", "Clip", "LeakyRelu", "HardSwish", "Gelu" };

    private static readonly Func<Node, bool> Always = _ => true;

    public static void Register(Action<OpSchema> add)
    {
        foreach (var op in Unary)
            add(new OpSchema(op, c => c.PassThrough(), 1, op == "InstanceNormalization" ? 3 : 1)
            {
                Channels = op == "InstanceNormalization" ? ChannelFlowKind.Opaque : ChannelFlowKind.Elementwise,
                KeepsZero = ZeroAtZero.Contains(op) ? Always : null, Rectifier = Rectifiers.Contains(op), Gate = op is "Sigmoid" or "HardSigmoid",
            });
        foreach (var op in Binary)
            add(new OpSchema(op, InferBinary, 2, 2)
            {
                Channels = op switch { "Add" => ChannelFlowKind.Add, "Mul" => ChannelFlowKind.Mul, _ => ChannelFlowKind.Opaque },
                Quantization = op == "Add" ? QuantizationRole.Requantizing : QuantizationRole.None,
            });
        foreach (var op in Variadic) add(new OpSchema(op, c => c.SetOutput(0, c.InputType(0), Broadcast.Shapes(c, Enumerable.Range(0, c.InputCount))), 1, int.MaxValue));
        foreach (var op in Compare) add(new OpSchema(op, c => c.SetOutput(0, DataType.Bool, Broadcast.Shapes(c, new[] { 0, 1 })), 2, 2));
        add(new OpSchema("Not", c => c.SetOutput(0, DataType.Bool, c.InputShape(0))));
        add(new OpSchema("Where", c => c.SetOutput(0, c.InputType(1), Broadcast.Shapes(c, new[] { 0, 1, 2 })), 3, 3));
        add(new OpSchema("Clip", c => c.PassThrough(), 1, 3)
        {
            Channels = ChannelFlowKind.Elementwise, Rectifier = true, KeepsZero = n => ClipBounds.Of(n) is { Min: <= 0, Max: >= 0 },
        });
        add(new OpSchema("Dropout", InferDropout, 1, 3) { Channels = ChannelFlowKind.Elementwise, KeepsZero = Always });
        add(new OpSchema("Cast", InferCast));
        add(new OpSchema("CastLike", c => c.SetOutput(0, c.InputType(1), c.InputShape(0)), 2, 2));
        add(new OpSchema("BatchNormalization", c => { c.PassThrough(); }, 5, 5)
        {
            // Scale γ and bias β, one per channel; the running mean and variance (inputs 3 and 4) likewise.
            Weights = n => new WeightLayout(1, 2, OutputAxis: 0, InputAxis: 0, 1, Spatial: true),
            ChannelInputs = new[] { 1, 2, 3, 4 }, Channels = ChannelFlowKind.Normalization,
        });
        add(new OpSchema("LayerNormalization", c => c.PassThrough(), 2, 3));
        add(new OpSchema("QuantizeLinear", InferQuantize, 2, 3));
        add(new OpSchema("DynamicQuantizeLinear", c =>
        {
            c.SetOutput(0, DataType.UInt8, c.InputShape(0));
            c.SetOutput(1, DataType.Float, Shape.Of());
            c.SetOutput(2, DataType.UInt8, Shape.Of());
        }, 1, 1));
        add(new OpSchema("DequantizeLinear", c => c.SetOutput(0, c.HasInput(1) ? c.InputType(1) : DataType.Float, c.InputShape(0)), 2, 3));
    }

    private static void InferBinary(InferenceContext c)
    {
        c.RequireSameType(0, 1);
        var shape = Broadcast.Shapes(c, new[] { 0, 1 });
        c.SetOutput(0, c.InputType(0), shape);
        if (c.Node.OpType is "Add" or "Sub" or "Mul" or "Div" && c.ShapeValue(0) is { } a && c.ShapeValue(1) is { } b)
            PropagateArithmetic(c, a, b);
    }

    /// <summary>Keeps shape arithmetic (e.g. channels / groups in a channel shuffle) known.</summary>
    private static void PropagateArithmetic(InferenceContext c, Dim[] a, Dim[] b)
    {
        if (a.Length != b.Length && a.Length != 1 && b.Length != 1) return;
        var n = Math.Max(a.Length, b.Length);
        var result = new Dim[n];
        for (var i = 0; i < n; i++)
        {
            var (x, y) = (a[a.Length == 1 ? 0 : i].Value, b[b.Length == 1 ? 0 : i].Value);
            result[i] = x is null || y is null || (c.Node.OpType == "Div" && y == 0) ? Dim.Unknown : Dim.Of(c.Node.OpType switch
            {
                "Add" => x.Value + y.Value,
                "Sub" => x.Value - y.Value,
                "Mul" => x.Value * y.Value,
                _ => x.Value / y.Value,
            });
        }
        c.SetShapeValue(0, result);
    }

    /// <summary>Cast to an integer type keeps a shape value known (PyTorch wraps shape arithmetic in Casts).</summary>
    private static void InferCast(InferenceContext c)
    {
        var to = (DataType)c.Int("to", 0);
        c.SetOutput(0, to, c.InputShape(0));
        if (to is DataType.Int64 or DataType.Int32 && c.ShapeValue(0) is { } v) c.SetShapeValue(0, v);
    }

    private static void InferDropout(InferenceContext c)
    {
        c.PassThrough();
        c.SetOutput(1, DataType.Bool, c.InputShape(0));
    }

    private static void InferQuantize(InferenceContext c)
    {
        var type = c.HasInput(2) ? c.InputType(2) : (DataType)c.Int("output_dtype", (long)DataType.UInt8);
        c.SetOutput(0, type == DataType.Undefined ? DataType.UInt8 : type, c.InputShape(0));
    }
}
