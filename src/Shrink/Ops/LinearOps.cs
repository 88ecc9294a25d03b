using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>Gemm and MatMul: shapes, MAC counts and weight layouts.</summary>
internal static class LinearOps
{
    public static void Register(Action<OpSchema> add)
    {
        add(new OpSchema("Gemm", InferGemm, 2, 3)
        {
            Macs = GemmMacs, Weights = GemmWeights, Channels = ChannelFlowKind.Layer, Quantization = QuantizationRole.Weighted,
        });
        add(new OpSchema("MatMul", c => { c.RequireSameType(0, 1); InferMatMul(c, c.InputType(0)); }, 2, 2)
        {
            Macs = MatMulMacs, Weights = MatMulWeights, Channels = ChannelFlowKind.Layer, Quantization = QuantizationRole.Weighted,
        });
        add(new OpSchema("MatMulInteger", c => InferMatMul(c, DataType.Int32), 2, 4) { Macs = MatMulMacs });
    }

    /// <summary>Y = α·A'·B' + β·C: B is [K, N] (output channels on axis 1), or [N, K] with transB; A is read transposed with transA.</summary>
    private static WeightLayout GemmWeights(Node n)
    {
        var transB = n.GetInt("transB", 0) != 0;
        return new WeightLayout(1, OpRoles.Optional(n, 2), OutputAxis: transB ? 0 : 1, InputAxis: transB ? 1 : 0, 1, Spatial: false)
        {
            DataTransposed = n.GetInt("transA", 0) != 0,
        };
    }

    /// <summary>
    /// The constant operand of a MatMul: B [.., K, N] (output channels on its last axis) when the right operand is
    /// constant, else A [.., M, K] (output rows on its second-last axis) read by the activations on the right; null
    /// when neither operand is a constant of rank 2 or more.
    /// </summary>
    private static WeightLayout? MatMulWeights(Node n)
    {
        if (Graph.ConstantOf(n.Inputs.ElementAtOrDefault(1)) is { } b)
            return b.Dims.Length < 2 ? null : new WeightLayout(1, null, b.Dims.Length - 1, b.Dims.Length - 2, 1, Spatial: false);
        if (Graph.ConstantOf(n.Inputs.ElementAtOrDefault(0)) is { Dims.Length: >= 2 } a)
            return new WeightLayout(0, null, a.Dims.Length - 2, a.Dims.Length - 1, 1, Spatial: false) { Data = 1 };
        return null;
    }

    /// <summary>Y = α·A'·B' + β·C with A' of [M,K] and B' of [K,N].</summary>
    private static void InferGemm(InferenceContext c)
    {
        c.RequireSameType(0, 1);
        var (a, b) = (c.InputShape(0), c.InputShape(1));
        if (a is not { Rank: 2 } || b is not { Rank: 2 }) { c.SetOutput(0, c.InputType(0), a is null || b is null ? null : BadRank(c)); return; }
        var transA = c.Int("transA", 0) != 0;
        var transB = c.Int("transB", 0) != 0;
        var (m, ka) = transA ? (a[1], a[0]) : (a[0], a[1]);
        var (kb, n) = transB ? (b[1], b[0]) : (b[0], b[1]);
        if (ka.IsKnown && kb.IsKnown && ka.Value != kb.Value)
            c.Problem($"shape mismatch at node '{c.Node.DisplayName}' (Gemm): A has {ka.Value} columns but B has {kb.Value} rows");
        c.SetOutput(0, c.InputType(0), new Shape(new[] { m, n }));
    }

    private static Shape? BadRank(InferenceContext c)
    {
        c.Problem($"rank mismatch at node '{c.Node.DisplayName}' (Gemm): inputs must be 2-D, got {c.InputShape(0)} and {c.InputShape(1)}");
        return null;
    }

    /// <summary>NumPy matmul: 1-D operands are promoted, batch axes broadcast.</summary>
    private static void InferMatMul(InferenceContext c, DataType output)
    {
        var (a, b) = (c.InputShape(0), c.InputShape(1));
        if (a is null || b is null || a.Rank == 0 || b.Rank == 0) { c.SetOutput(0, output, null); return; }
        var ad = a.Rank == 1 ? new[] { Dim.Of(1), a[0] } : a.Dims.ToArray();
        var bd = b.Rank == 1 ? new[] { b[0], Dim.Of(1) } : b.Dims.ToArray();
        var (k1, k2) = (ad[^1], bd[^2]);
        if (k1.IsKnown && k2.IsKnown && k1.Value != k2.Value)
            c.Problem($"shape mismatch at node '{c.Node.DisplayName}' (MatMul): inner dimensions {k1.Value} and {k2.Value} differ");
        var batch = BroadcastBatch(ad[..^2], bd[..^2]);
        var dims = batch.ToList();
        if (a.Rank > 1) dims.Add(ad[^2]);
        if (b.Rank > 1) dims.Add(bd[^1]);
        c.SetOutput(0, output, new Shape(dims));
    }

    private static Dim[] BroadcastBatch(Dim[] a, Dim[] b)
    {
        var rank = Math.Max(a.Length, b.Length);
        var result = new Dim[rank];
        for (var i = 0; i < rank; i++)
        {
            var x = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : Dim.Of(1);
            var y = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : Dim.Of(1);
            result[i] = x.Value == 1 ? y : x;
        }
        return result;
    }

    private static long? GemmMacs(InferenceContext c)
    {
        var a = c.InputShape(0);
        var y = c.Node.Outputs[0]?.Shape;
        if (a is not { Rank: 2 } || y is not { Rank: 2 } || c.Size(y[1]) is not { } n) return null;
        return c.Size(c.Int("transA", 0) != 0 ? a[0] : a[1]) is { } k ? k * n : null;  // per sample: one row of A
    }

    private static long? MatMulMacs(InferenceContext c)
    {
        var a = c.InputShape(0);
        var y = c.Node.Outputs[0]?.Shape;
        if (a is null || a.Rank == 0 || c.Size(a[a.Rank - 1]) is not { } k || c.PerSampleElements(y) is not { } outputs) return null;
        return outputs * k;
    }
}
