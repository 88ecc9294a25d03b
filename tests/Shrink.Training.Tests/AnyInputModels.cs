using Shrink.Builder;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Ops;
using Shrink.Runtime;
using A = Shrink.Ir.Attribute;

namespace Shrink.Training.Tests;

/// <summary>
/// Small models that do not take 28×28 images, and data for them: a text classifier of token ids and an attention mask
/// (two int64 inputs), a 1×1-convolution "segmentation" head (its output a map), and random sequences for
/// tests/data/torch's transformer_tiny (a dynamic sequence axis).
/// </summary>
internal static class AnyInputModels
{
    public const int Vocabulary = 24, Classes = 3;

    /// <summary>
    /// input_ids and attention_mask, int64 [batch, seq] → an embedding bag (Gather, the masked sum over the sequence) →
    /// Gemm → logits [batch, 3]: the shape of a text encoder's inputs, small enough to train in seconds.
    /// </summary>
    public static Model TokenBag(int seed = 0)
    {
        var g = new Graph("token-bag");
        Value Input(string name)
        {
            var v = new Value(name, DataType.Int64, new Shape(new[] { Dim.Symbol("batch"), Dim.Symbol("seq") }));
            g.Inputs.Add(v);
            return v;
        }
        var (ids, mask) = (Input("input_ids"), Input("attention_mask"));
        var random = new Random(seed);
        float[] Uniform(int n, double bound) => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * bound)).ToArray();
        var embedding = g.AddInitializer(Tensor.FromFloats("embedding", [Vocabulary, 8], Uniform(Vocabulary * 8, 1)));
        var weight = g.AddInitializer(Tensor.FromFloats("classifier.weight", [Classes, 8], Uniform(Classes * 8, 0.35)));
        var bias = g.AddInitializer(Tensor.FromFloats("classifier.bias", [Classes], Uniform(Classes, 0.35)));
        var axis2 = g.AddInitializer(Tensor.FromInt64s("axis2", [1], [2]));
        var axis1 = g.AddInitializer(Tensor.FromInt64s("axis1", [1], [1]));
        Value Op(string op, string output, Value?[] inputs, params A[] attributes)
        {
            var node = new Node(op, "", output + "_node");
            foreach (var i in inputs) node.AddInput(i);
            node.Attributes.AddRange(attributes);
            var value = node.AddOutput(new Value(output))!;
            g.AddNode(node);
            return value;
        }
        var embedded = Op("Gather", "embedded", [embedding, ids]);
        var weights = Op("Unsqueeze", "mask3", [Op("Cast", "maskf", [mask], A.Int("to", (long)DataType.Float)), axis2]);
        var pooled = Op("ReduceSum", "pooled", [Op("Mul", "masked", [embedded, weights]), axis1], A.Int("keepdims", 0));
        g.Outputs.Add(Op("Gemm", "logits", [pooled, weight, bias], A.Int("transB", 1)));
        var model = new Model(g) { IrVersion = 8 };
        model.SetOpset("", 17);
        ShapeInference.Run(model);
        return model;
    }

    /// <summary>
    /// <paramref name="n"/> token sequences of length 6 and their masks (1 for the first 2 to 6 tokens, then 0): the tokens of a
    /// sample come from one third of the vocabulary, which is its class. Without <paramref name="labelled"/>, inputs only.
    /// </summary>
    public static InMemorySource Tokens(int n, int seed, bool labelled = true)
    {
        var random = new Random(seed);
        var (ids, mask, labels) = (new long[n * 6], new long[n * 6], new int[n]);
        for (var i = 0; i < n; i++)
        {
            labels[i] = random.Next(Classes);
            var length = random.Next(2, 7);
            for (var t = 0; t < 6; t++)
            {
                ids[i * 6 + t] = labels[i] * (Vocabulary / Classes) + random.Next(Vocabulary / Classes);
                mask[i * 6 + t] = t < length ? 1 : 0;
            }
        }
        var tensors = new[] { new HostTensor("input_ids", ids, [n, 6]), new HostTensor("attention_mask", mask, [n, 6]) };
        return labelled ? new InMemorySource($"tokens (seed {seed})", tensors, labels, Classes) : new InMemorySource($"tokens (seed {seed}, no labels)", tensors);
    }

    /// <summary>image [N, 3, 8, 8] → 1×1 conv (8) → ReLU → 1×1 conv (2) → mask [N, 2, 8, 8]: a model whose output is a map.</summary>
    public static Model SegmentationHead(int seed = 0)
    {
        var b = new NetworkBuilder("segmentation-head", seed);
        var x = b.Input("image", 3, 8, 8);
        b.Output(b.Conv(b.Relu(b.Conv(x, 8, 1)), 2, 1), "mask");
        return b.Build();
    }

    /// <summary><paramref name="n"/> samples of seeded N(0, 1) floats of one shape, inputs only, in one input named <paramref name="input"/>.</summary>
    public static InMemorySource Normal(string input, int n, int seed, params long[] sample)
    {
        var random = new Random(seed);
        var count = n * (int)sample.Aggregate(1L, (a, d) => a * d);
        var data = Enumerable.Range(0, count).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();
        return new InMemorySource($"{input} N(0,1) [{string.Join(",", sample)}] (seed {seed})", [new HostTensor(input, data, new long[] { n }.Concat(sample).ToArray())]);
    }
}
