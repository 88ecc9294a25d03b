using Shrink.Ir;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Execution;

/// <summary>One compiled node: reads its inputs from value slots and writes its outputs to them.</summary>
public delegate void Kernel(Tensor?[] slots);

/// <summary>What a kernel factory knows about the node it compiles.</summary>
internal sealed class KernelContext
{
    private readonly Func<Value, int> _slotOf;
    private readonly Dictionary<int, Ir.Tensor> _constants;

    public KernelContext(GraphExecutor executor, Node node, Func<Value, int> slotOf, Dictionary<int, Ir.Tensor> constants, long opset)
    {
        Executor = executor;
        Node = node;
        _slotOf = slotOf;
        _constants = constants;
        Opset = opset;
    }

    public GraphExecutor Executor { get; }
    public Node Node { get; }
    public long Opset { get; }

    /// <summary>True when input i is present (not missing or empty-named).</summary>
    public bool Has(int i) => i < Node.Inputs.Count && Node.Inputs[i] is { Name.Length: > 0 };

    /// <summary>The slot of input i, or -1 when it is missing.</summary>
    public int In(int i) => Has(i) ? _slotOf(Node.Inputs[i]!) : -1;

    /// <summary>The slots of all present inputs.</summary>
    public int[] Ins() => Enumerable.Range(0, Node.Inputs.Count).Where(Has).Select(In).ToArray();

    /// <summary>The slot of output i; -1 when it is missing or unused.</summary>
    public int Out(int i) => i < Node.Outputs.Count && Node.Outputs[i] is { Name.Length: > 0 } v ? _slotOf(v) : -1;

    /// <summary>True when output i exists and something reads it.</summary>
    public bool OutputUsed(int i) => i < Node.Outputs.Count && Node.Outputs[i] is { Name.Length: > 0 } v
        && (v.Uses.Count > 0 || Node.Graph?.Outputs.Contains(v) == true);

    /// <summary>The compile-time value of input i (an initializer, a Constant or a folded value), or null.</summary>
    public Ir.Tensor? Constant(int i) => Has(i) && _constants.TryGetValue(In(i), out var t) ? t : null;

    /// <summary>Input i as int64 values known at compile time, or null.</summary>
    public long[]? ConstantInts(int i) => Constant(i) is { } t && !t.DataType.IsFloat() ? t.ToInt64s() : null;

    public long Int(string name, long fallback) => Node.GetInt(name, fallback);
    public float Float(string name, float fallback) => Node.GetFloat(name, fallback);
    public long[]? Ints(string name) => Node.GetInts(name);
    public string? String(string name) => Node.GetString(name);

    /// <summary>
    /// A scalar operand owned by the executor, for kernels to capture. Never pass a double where
    /// TorchSharp takes a Scalar: the implicit conversion's Scalar is left to the finalizer, which can
    /// free it while the native call still reads it.
    /// </summary>
    public Scalar Scalar(double value) => Executor.Own(value.ToScalar());

    /// <summary>An integer scalar operand owned by the executor (valid for integer and float tensors).</summary>
    public Scalar Scalar(long value) => Executor.Own(value.ToScalar());

    /// <summary>
    /// Refuses this node's settings ("mode 'cubic'"); the executor gathers every refusal of a model into one
    /// <see cref="UnsupportedOpException"/>. Throw it from the kernel factory only, never from a kernel.
    /// </summary>
    public Exception Unsupported(string what) => new UnsupportedNodeException(what);
}
