using Shrink.Ir;

namespace Shrink.Passes.Merging;

/// <summary>
/// A linear layer as the merging passes read it: an affine map y = x·W + b on the features of the last axis (dense:
/// Gemm, or a MatMul with a constant 2-D right operand, with the Add of a constant bias vector that follows it when there
/// is one), or a convolution over channels (Conv, bias inside). The weights are read in float64, normalised: a dense W is
/// [K, N] row-major with Gemm's transB and alpha applied and b = beta·C; a convolution keeps ONNX's [O, I/g, k…]. The
/// weight is read only when a merge needs its values (<see cref="Weight"/>), so finding the units of a big model costs
/// no copy of its weights, and an external weight is read from its file without being loaded.
/// </summary>
internal sealed record LinearUnit(Node Head, Node? BiasAdd, bool Conv, long[] WeightDims, Lazy<double[]> WeightValues, double[]? Bias)
{
    /// <summary>The weight in float64, normalised (see the type); read and converted on first use.</summary>
    public double[] Weight => WeightValues.Value;

    /// <summary>The activations the layer reads.</summary>
    public Value Input => Head.Inputs[0]!;

    /// <summary>The value the unit's last node writes.</summary>
    public Value Output => (BiasAdd ?? Head).Outputs[0]!;

    /// <summary>The nodes of the unit in order.</summary>
    public IEnumerable<Node> Nodes => BiasAdd is null ? new[] { Head } : new[] { Head, BiasAdd };

    /// <summary>Output channels: N of a dense [K, N], O of a convolution.</summary>
    public long Channels => Conv ? WeightDims[0] : WeightDims[1];

    /// <summary>Input features of a dense layer (K), or the convolution's input channels (I).</summary>
    public long InputChannels => Conv ? WeightDims[1] * Groups : WeightDims[0];

    public long Groups => Conv ? Head.GetInt("group", 1) : 1;

    /// <summary>Parameters as stored: weight, bias and the constants of the bias Add.</summary>
    public long Parameters => WeightDims.Aggregate(1L, (a, d) => a * d) + (Bias?.LongLength ?? 0);

    public string Name => Head.DisplayName;

    /// <summary>The unit whose first node is <paramref name="node"/>, or null with the reason in <paramref name="why"/>.</summary>
    public static LinearUnit? At(Graph graph, Node node, out string? why)
    {
        why = null;
        if (!node.IsDefaultDomain) { why = "not an ONNX layer"; return null; }
        return node.OpType switch
        {
            "Conv" => ConvAt(node, out why),
            "Gemm" => GemmAt(node, out why),
            "MatMul" => MatMulAt(graph, node, out why),
            _ => null,
        };
    }

    private static LinearUnit? ConvAt(Node node, out string? why)
    {
        why = null;
        if (Float(node.Inputs.ElementAtOrDefault(1)) is not { Dims.Length: >= 3 } w) { why = "its weight is not a float constant"; return null; }
        double[]? bias = null;
        if (node.Inputs.ElementAtOrDefault(2) is { Name.Length: > 0 } b)
        {
            if (Float(b) is not { } bt || bt.ElementCount != w.Dims[0]) { why = "its bias is not a float constant with one entry per channel"; return null; }
            bias = bt.ToDoubles();
        }
        return new LinearUnit(node, null, true, w.Dims, new(() => Doubles(w)), bias);
    }

    private static LinearUnit? GemmAt(Node node, out string? why)
    {
        why = null;
        if (node.GetInt("transA", 0) != 0) { why = "Gemm with transA"; return null; }
        if (Float(node.Inputs.ElementAtOrDefault(1)) is not { Dims.Length: 2 } w) { why = "its weight is not a 2-D float constant"; return null; }
        var transB = node.GetInt("transB", 0) != 0;
        var (k, n) = transB ? (w.Dims[1], w.Dims[0]) : (w.Dims[0], w.Dims[1]);
        var alpha = (double)node.GetFloat("alpha", 1);
        var weight = new Lazy<double[]>(() =>
        {
            using var lease = w.ReadFloats();
            var stored = lease.Values;
            var values = new double[k * n];
            for (long i = 0; i < k; i++)
                for (long j = 0; j < n; j++)
                    values[i * n + j] = alpha * (transB ? stored[(int)(j * k + i)] : stored[(int)(i * n + j)]);
            return values;
        });
        double[]? bias = null;
        if (node.Inputs.ElementAtOrDefault(2) is { Name.Length: > 0 } c)
        {
            if (Float(c) is not { } ct || PerChannel(ct, n, 1, 2) is not { } vector) { why = "its C is not a float constant bias vector"; return null; }
            var beta = (double)node.GetFloat("beta", 1);
            bias = vector.Select(v => beta * v).ToArray();
        }
        return new LinearUnit(node, null, false, new[] { k, n }, weight, bias);
    }

    private static LinearUnit? MatMulAt(Graph graph, Node node, out string? why)
    {
        why = null;
        if (Float(node.Inputs.ElementAtOrDefault(1)) is not { Dims.Length: 2 } w) { why = "its right operand is not a 2-D float constant"; return null; }
        if (Graph.ConstantOf(node.Inputs[0]) is not null) { why = "both operands are constants"; return null; }
        var n = w.Dims[1];
        var y = node.Outputs[0]!;
        // A torch Linear on more than two axes exports as MatMul then Add of the bias: read the pair as one layer.
        if (y.Uses is [{ Node: { OpType: "Add", IsDefaultDomain: true } add } use] && !graph.Outputs.Contains(y)
            && Float(add.Inputs[1 - use.Index]) is { } bt && PerChannel(bt, n, 1, OutputRank(y)) is { } bias)
            return new LinearUnit(node, add, false, w.Dims, new(() => Doubles(w)), bias);
        return new LinearUnit(node, null, false, w.Dims, new(() => Doubles(w)), null);
    }

    /// <summary>The rank of a value when shape inference knows it.</summary>
    public static int? OutputRank(Value v) => v.Shape?.Rank;

    /// <summary>
    /// The per-channel vector (length <paramref name="channels"/>) a constant broadcasts to on output axis
    /// <paramref name="axis"/> (counted from the end when the output rank is unknown: 1 for dense features) of an output of
    /// rank <paramref name="rank"/>; a single value is repeated. Null when it varies along another axis, or could add axes.
    /// </summary>
    public static double[]? PerChannel(Tensor c, long channels, int axisFromEnd, int? rank)
    {
        var dims = c.Dims;
        if (rank is { } r ? dims.Length > r : dims.Length > axisFromEnd) return null;
        var values = c.ToDoubles();
        if (values.Length == 1) return Enumerable.Repeat(values[0], (int)channels).ToArray();
        for (var j = 0; j < dims.Length; j++)
        {
            var fromEnd = dims.Length - j;
            if (fromEnd == axisFromEnd ? dims[j] != channels : dims[j] != 1) return null;
        }
        return dims.Length >= axisFromEnd ? values : null;
    }

    /// <summary>A float32 weight's values in float64, read without loading the tensor.</summary>
    private static double[] Doubles(Tensor w)
    {
        var values = new double[w.ElementCount];
        w.ReadDoubles(values);
        return values;
    }

    private static Tensor? Float(Value? v) => Graph.ConstantOf(v) is { DataType: DataType.Float } t && t.AllFinite() ? t : null;
}
