using Shrink.Ir;
using A = Shrink.Ir.Attribute;

namespace Shrink.Builder;

/// <summary>Layer methods of <see cref="NetworkBuilder"/>.</summary>
public sealed partial class NetworkBuilder
{
    /// <summary>2-D convolution with OIHW weights [out, in/group, k, k].</summary>
    public Value Conv(Value x, long outChannels, long kernel, long stride = 1, long padding = 0, long group = 1, bool bias = true)
    {
        var inChannels = Channels(x);
        if (inChannels % group != 0 || outChannels % group != 0)
            throw new ArgumentException($"channels {inChannels}→{outChannels} are not divisible by group {group}");
        var name = PeekName("conv");
        var fanIn = inChannels / group * kernel * kernel;
        var w = Constant($"{name}.weight", Uniform(new[] { outChannels, inChannels / group, kernel, kernel }, 1 / Math.Sqrt(fanIn)));
        var b = bias ? Constant($"{name}.bias", Uniform(new[] { outChannels }, 1 / Math.Sqrt(fanIn))) : null;
        return Op("Conv", bias ? new[] { x, w, b } : new[] { x, w },
            A.Ints("kernel_shape", kernel, kernel), A.Ints("strides", stride, stride),
            A.Ints("pads", padding, padding, padding, padding), A.Int("group", group));
    }

    /// <summary>Fully connected layer as Gemm with transB=1 and weight [out, in] (PyTorch's Linear layout).</summary>
    public Value Linear(Value x, long outFeatures, bool bias = true)
    {
        var inFeatures = Channels(x);
        var name = PeekName("gemm");
        var w = Constant($"{name}.weight", Uniform(new[] { outFeatures, inFeatures }, 1 / Math.Sqrt(inFeatures)));
        var b = bias ? Constant($"{name}.bias", Uniform(new[] { outFeatures }, 1 / Math.Sqrt(inFeatures))) : null;
        return Op("Gemm", bias ? new[] { x, w, b } : new[] { x, w }, A.Float("alpha", 1), A.Float("beta", 1), A.Int("transB", 1));
    }

    /// <summary>MatMul of x [.., K] with a new weight [K, N].</summary>
    public Value MatMul(Value x, long outFeatures)
    {
        var k = Channels(x, x.Shape!.Rank - 1);
        var w = Constant($"{PeekName("matmul")}.weight", Uniform(new[] { k, outFeatures }, 1 / Math.Sqrt(k)));
        return Op("MatMul", new[] { x, w });
    }

    /// <summary>BatchNormalization with γ=1, β=0, running mean 0 and variance 1.</summary>
    public Value BatchNorm(Value x, float epsilon = 1e-5f, float momentum = 0.9f)
    {
        var c = Channels(x);
        var name = PeekName("batchnormalization");
        var inputs = new[] { x, Constant($"{name}.scale", Filled(new[] { c }, 1)), Constant($"{name}.bias", Filled(new[] { c }, 0)),
            Constant($"{name}.mean", Filled(new[] { c }, 0)), Constant($"{name}.var", Filled(new[] { c }, 1)) };
        return Op("BatchNormalization", inputs, A.Float("epsilon", epsilon), A.Float("momentum", momentum));
    }

    public Value Add(Value a, Value b) => Op("Add", new[] { a, b });
    public Value Relu(Value x) => Op("Relu", new[] { x });
    public Value LeakyRelu(Value x, float alpha = 0.01f) => Op("LeakyRelu", new[] { x }, A.Float("alpha", alpha));
    public Value Sigmoid(Value x) => Op("Sigmoid", new[] { x });
    public Value Tanh(Value x) => Op("Tanh", new[] { x });

    /// <summary>GELU; native from opset 20, else 0.5·x·(1 + erf(x/√2)).</summary>
    public Value Gelu(Value x)
    {
        if (Opset >= 20) return Op("Gelu", new[] { x });
        var scaled = Op("Div", new[] { x, Constant(PeekName("div") + ".sqrt2", Filled(Array.Empty<long>(), MathF.Sqrt(2))) });
        var erf = Op("Erf", new[] { scaled });
        var onePlus = Op("Add", new[] { erf, Constant(PeekName("add") + ".one", Filled(Array.Empty<long>(), 1)) });
        var half = Op("Mul", new[] { x, Constant(PeekName("mul") + ".half", Filled(Array.Empty<long>(), 0.5f)) });
        return Op("Mul", new[] { half, onePlus });
    }

    public Value MaxPool(Value x, long kernel, long stride, long padding = 0) =>
        Op("MaxPool", new[] { x }, A.Ints("kernel_shape", kernel, kernel), A.Ints("strides", stride, stride), A.Ints("pads", padding, padding, padding, padding));

    public Value AveragePool(Value x, long kernel, long stride, long padding = 0) =>
        Op("AveragePool", new[] { x }, A.Ints("kernel_shape", kernel, kernel), A.Ints("strides", stride, stride), A.Ints("pads", padding, padding, padding, padding));

    public Value GlobalAveragePool(Value x) => Op("GlobalAveragePool", new[] { x });
    public Value Flatten(Value x, long axis = 1) => Op("Flatten", new[] { x }, A.Int("axis", axis));

    /// <summary>Reshape to a constant target (0 copies a dimension, −1 is inferred).</summary>
    public Value Reshape(Value x, params long[] shape) =>
        Op("Reshape", new[] { x, Constant($"{PeekName("reshape")}.shape", Tensor.FromInt64s("s", new long[] { shape.Length }, shape)) });

    /// <summary>Splits along an axis into parts of the given sizes.</summary>
    public Value[] Split(Value x, long axis, params long[] sizes)
    {
        var node = new Node("Split", "", NextName("split"));
        node.AddInput(x);
        node.AddInput(Constant($"{node.Name}.split", Tensor.FromInt64s("s", new long[] { sizes.Length }, sizes)));
        node.Attributes.Add(A.Int("axis", axis));
        var outputs = sizes.Select((_, i) => node.AddOutput(new Value($"{node.Name}_out{i}"))!).ToArray();
        _graph.AddNode(node);
        Infer(node);
        return outputs;
    }

    public Value Concat(long axis, params Value[] values) => Op("Concat", values, A.Int("axis", axis));
    public Value Softmax(Value x, long axis = -1) => Op("Softmax", new[] { x }, A.Int("axis", axis));

    /// <summary>Dropout (identity in inference) with the ratio as an input, as in opset 12+.</summary>
    public Value Dropout(Value x, float ratio = 0.5f) =>
        Op("Dropout", new[] { x, Constant($"{PeekName("dropout")}.ratio", Filled(Array.Empty<long>(), ratio)) });

    /// <summary>Clip to [min, max] (ReLU6 with 0 and 6).</summary>
    public Value Clip(Value x, float min, float max)
    {
        var name = PeekName("clip");
        return Op("Clip", new[] { x, Constant($"{name}.min", Filled(Array.Empty<long>(), min)), Constant($"{name}.max", Filled(Array.Empty<long>(), max)) });
    }

    /// <summary>The name the next node of this op type will get (to name its weights after it).</summary>
    private string PeekName(string prefix) => $"{prefix}{_counters.GetValueOrDefault(prefix) + 1}";
}
