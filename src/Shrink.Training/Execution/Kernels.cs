using Shrink.Ir;

namespace Shrink.Training.Execution;

/// <summary>
/// The executor's op table: ONNX op type (default domain) → kernel factory. Each family lives in its
/// own file (Kernels.Layers, Kernels.ConvTranspose, Kernels.Elementwise, Kernels.Shape, Kernels.Pad,
/// Kernels.Resize, Kernels.Einsum, Kernels.Reduce, Kernels.Quantize).
/// </summary>
internal static partial class Kernels
{
    private static readonly Dictionary<string, Func<KernelContext, Kernel>> Table = new();

    static Kernels()
    {
        RegisterLayers();
        RegisterConvTranspose();
        RegisterElementwise();
        RegisterShape();
        RegisterPad();
        RegisterResize();
        RegisterEinsum();
        RegisterReduce();
        RegisterQuantize();
    }

    private static void Add(string op, Func<KernelContext, Kernel> factory) => Table[op] = factory;

    /// <summary>The op types the executor runs, sorted.</summary>
    public static IReadOnlyList<string> SupportedOps => Table.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();

    public static bool IsSupported(Node node) => node.IsDefaultDomain && Table.ContainsKey(node.OpType);

    /// <summary>Ops whose result depends on the mode or on randomness are never folded at compile time.</summary>
    public static bool IsFoldable(Node node) => node.OpType is not ("Dropout" or "BatchNormalization");

    public static Kernel Create(KernelContext ctx) => Table[ctx.Node.OpType](ctx);

    /// <summary>An axis made non-negative against a rank.</summary>
    internal static long Axis(long axis, long rank) => axis < 0 ? axis + rank : axis;
}
