using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>ONNX Runtime's contrib ops (domain com.microsoft) that Shrink writes: MatMulNBits.</summary>
internal static class ContribOps
{
    public static void Register(Action<OpSchema> add)
    {
        add(new OpSchema("MatMulNBits", InferMatMulNBits, 3, 6, "com.microsoft") { Macs = MatMulNBitsMacs });
    }

    /// <summary>Y = A · dequantize(B)ᵀ (+ bias): A [.., K] → Y [.., N], A's element type.</summary>
    private static void InferMatMulNBits(InferenceContext c)
    {
        var (k, n) = (c.Int("K", 0), c.Int("N", 0));
        if (c.InputShape(0) is not { Rank: >= 1 } a) { c.SetOutput(0, c.InputType(0), null); return; }
        if (a[a.Rank - 1].IsKnown && a[a.Rank - 1].Value != k)
            c.Problem($"shape mismatch at node '{c.Node.DisplayName}' (MatMulNBits): the input has {a[a.Rank - 1].Value} columns but K is {k}");
        c.SetOutput(0, c.InputType(0), new Shape(a.Dims.Take(a.Rank - 1).Append(Dim.Of(n))));
    }

    private static long? MatMulNBitsMacs(InferenceContext c) =>
        c.PerSampleElements(c.Node.Outputs[0]?.Shape) is { } outputs ? outputs * c.Int("K", 0) : null;
}
