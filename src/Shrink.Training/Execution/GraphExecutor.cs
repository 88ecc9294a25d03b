using System.Runtime.InteropServices;
using Shrink.Ir;
using Shrink.Ops;
using Shrink.Passes;
using Shrink.Passes.Cleanup;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Execution;

/// <summary>What an initializer becomes in the executor.</summary>
public enum ParameterKind
{
    /// <summary>A trainable weight (float initializer of a layer).</summary>
    Weight,
    /// <summary>State updated in training mode but never by gradients (BatchNormalization running mean and variance).</summary>
    Buffer,
}

/// <summary>An initializer held by the executor as a TorchSharp tensor.</summary>
public sealed class ExecutorParameter
{
    internal ExecutorParameter(string name, ParameterKind kind, Tensor tensor, DataType originalType)
    {
        Name = name;
        Kind = kind;
        Tensor = tensor;
        OriginalType = originalType;
    }

    /// <summary>The initializer's name in the IR.</summary>
    public string Name { get; }

    /// <summary>Weight or buffer.</summary>
    public ParameterKind Kind { get; }

    /// <summary>The live tensor (a <c>Parameter</c> for weights).</summary>
    public Tensor Tensor { get; }

    /// <summary>The initializer's element type in the IR; written back in that type.</summary>
    public DataType OriginalType { get; }

    /// <summary>Whether gradients flow into this parameter. Buffers are never trainable.</summary>
    public bool Trainable
    {
        get => Kind == ParameterKind.Weight && Tensor.requires_grad;
        set
        {
            if (Kind == ParameterKind.Weight) Tensor.requires_grad = value;
        }
    }

    public override string ToString() => $"{Name} {Kind} [{string.Join(",", Tensor.shape)}]{(Trainable ? "" : " frozen")}";
}

/// <summary>
/// Runs an IR graph on TorchSharp tensors, differentiably. The graph is compiled once into an array of
/// kernels over value slots, so a forward pass costs the tensor operations and almost nothing else.
/// Float initializers of layers become parameters; trained values are written back with
/// <see cref="Export"/>. Call <see cref="Forward(Tensor[])"/> inside a <c>torch.NewDisposeScope()</c>:
/// the intermediate tensors belong to the caller's scope.
/// </summary>
public sealed partial class GraphExecutor : IDisposable
{
    private readonly Model _model;
    private readonly Tensor?[] _template;
    private readonly Step[] _steps;
    private readonly int[] _inputSlots;
    private readonly int[] _outputSlots;
    private readonly Dictionary<string, int> _slotOf;
    private readonly List<ExecutorParameter> _parameters = new();
    private readonly List<Tensor> _owned = new();
    private readonly List<Scalar> _scalars = new();
    private readonly Dictionary<string, ActivationQuantizer> _quantizers = new();
    private bool _disposed;

    private readonly record struct Step(Node Node, Kernel Kernel);

    /// <summary>The model the executor was compiled from (not modified).</summary>
    public Model Model => _model;

    /// <summary>True in training mode: BatchNormalization uses batch statistics and updates its running ones, Dropout drops.</summary>
    public bool Training { get; set; }

    /// <summary>The graph inputs the executor takes, in order (initializer-backed inputs excluded).</summary>
    public IReadOnlyList<Value> Inputs { get; }

    /// <summary>The graph outputs, in order.</summary>
    public IReadOnlyList<Value> Outputs { get; }

    /// <summary>Weights and buffers, in initializer order.</summary>
    public IReadOnlyList<ExecutorParameter> Parameters => _parameters;

    /// <summary>The trainable weights' tensors (what an optimizer updates).</summary>
    public IEnumerable<TorchSharp.Modules.Parameter> TrainableTensors =>
        _parameters.Where(p => p.Trainable).Select(p => (TorchSharp.Modules.Parameter)p.Tensor);

    /// <summary>The activation quantizers (QuantizeLinear/DequantizeLinear parameters), by scale initializer name.</summary>
    public IReadOnlyDictionary<string, ActivationQuantizer> Quantizers => _quantizers;

    /// <summary>The quantizer of a QuantizeLinear/DequantizeLinear node: one per scale initializer, made on first use.</summary>
    internal ActivationQuantizer QuantizerFor(KernelContext ctx)
    {
        if (ctx.Constant(1) is not { ElementCount: 1 } s || !s.DataType.IsFloat())
            throw ctx.Unsupported("a scale that is not one constant (per-axis or computed scales)");
        var z = ctx.Has(2) ? ctx.Constant(2) : null;
        if (ctx.Has(2) && z is not { ElementCount: 1 }) throw ctx.Unsupported("a zero point that is not one constant");
        var type = z?.DataType ?? DataType.UInt8;
        if (type is not (DataType.UInt8 or DataType.Int8)) throw ctx.Unsupported($"{type.ShortName()} quantization (uint8 and int8 run)");
        var name = ctx.Node.Inputs[1]!.Name;
        if (_quantizers.TryGetValue(name, out var q))
        {
            if (q.Type != type) throw ctx.Unsupported($"scale '{name}' shared by {q.Type.ShortName()} and {type.ShortName()} quantization");
            return q;
        }
        return _quantizers[name] = new ActivationQuantizer(name, s.ToDoubles()[0], z?.ToInt64s()[0] ?? 0L, type);
    }

    /// <summary>A parameter by initializer name.</summary>
    public ExecutorParameter? FindParameter(string name) => _parameters.Find(p => p.Name == name);

    /// <summary>Compiles a model; an op the executor cannot run raises <see cref="UnsupportedOpException"/> naming it.</summary>
    public static GraphExecutor Compile(Model model)
    {
        TorchRuntime.EnsureInitialized();
        return new GraphExecutor(SharesBuffers(model) ? new UnshareInitializersPass().Run(model, new PassContext()).Model : model);
    }

    /// <summary>
    /// True when a BatchNormalization running statistic is not an initializer of its own: reached through Identity or
    /// read by other nodes too (exports deduplicate equal constants, so a zero running mean may be a convolution's zero
    /// bias). Such a model is compiled unshared (<see cref="UnshareInitializersPass"/>: the outputs are the same bit for
    /// bit), because a buffer that training updates cannot also be a weight that gradients update; <see cref="Model"/>
    /// and <see cref="Export"/> are then the unshared model.
    /// </summary>
    private static bool SharesBuffers(Model model) =>
        model.Graph.Nodes.Where(n => n.OpType == "BatchNormalization").SelectMany(n => n.Inputs.Skip(3))
            .Any(v => v is not null && (v.Const is not null ? v.Uses.Count > 1 : ThroughIdentity(v)));

    private static bool ThroughIdentity(Value v) =>
        v.Producer is { OpType: "Identity", IsDefaultDomain: true } p && p.Inputs[0] is { } source && (source.Const is not null || ThroughIdentity(source));

    private GraphExecutor(Model model)
    {
        _model = model;
        var graph = model.Graph;
        _slotOf = new Dictionary<string, int>();
        foreach (var v in graph.Values) SlotOf(v);
        _template = new Tensor?[_slotOf.Count];
        Inputs = graph.Inputs.Where(v => !v.IsInitializer).ToList();
        Outputs = graph.Outputs.ToList();
        _inputSlots = Inputs.Select(SlotOf).ToArray();
        _outputSlots = Outputs.Select(SlotOf).ToArray();
        try
        {
            var irConstants = new Dictionary<int, Ir.Tensor>();
            var isStatic = new bool[_slotOf.Count];
            LoadInitializers(graph, irConstants, isStatic);
            _steps = CompileSteps(model, irConstants, isStatic);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The slot of a value in the template, given on first sight.</summary>
    private int SlotOf(Value v)
    {
        if (!_slotOf.TryGetValue(v.Name, out var s)) _slotOf[v.Name] = s = _slotOf.Count;
        return s;
    }

    /// <summary>Initializers into the template: weights and buffers as float32 parameters, the rest as static constants.</summary>
    private void LoadInitializers(Graph graph, Dictionary<int, Ir.Tensor> irConstants, bool[] isStatic)
    {
        var roles = ParameterRoles(graph);
        foreach (var init in graph.Initializers)
        {
            var slot = SlotOf(init);
            var ir = init.Const!;
            irConstants[slot] = ir;
            if (roles.TryGetValue(init.Name, out var role) && TorchTensors.ScalarTypeOf(ir.DataType) is not null)
            {
                // Parameters live in float32 whatever the file's float type; Export converts back.
                var source = TorchTensors.FromIr(ir).DetachFromDisposeScope();
                if (source.dtype != ScalarType.Float32)
                {
                    var converted = source.to(ScalarType.Float32).DetachFromDisposeScope();
                    source.Dispose();
                    source = converted;
                }
                Tensor live = role == ParameterKind.Weight ? new TorchSharp.Modules.Parameter(source, requires_grad: true) : source;
                live.DetachFromDisposeScope();
                _parameters.Add(new ExecutorParameter(init.Name, role, live, ir.DataType));
                _template[slot] = live;
                _owned.Add(live);
            }
            else if (TorchTensors.ScalarTypeOf(ir.DataType) is not null)
            {
                var t = TorchTensors.FromIr(ir).DetachFromDisposeScope();
                _template[slot] = t;
                _owned.Add(t);
                isStatic[slot] = true;
            }
        }
    }

    /// <summary>
    /// Kernels in topological order; nodes whose inputs are all static constants are folded now. Every node
    /// the executor cannot run (an op it lacks, or settings a kernel refuses) is gathered into one
    /// <see cref="UnsupportedOpException"/>, thrown once the whole graph has been seen.
    /// </summary>
    private Step[] CompileSteps(Model model, Dictionary<int, Ir.Tensor> irConstants, bool[] isStatic)
    {
        var steps = new List<Step>();
        var refused = new List<(Node, string?)>();
        using (torch.no_grad())
            foreach (var node in model.Graph.TopologicalOrder())
            {
                var kernel = CreateKernel(model, node, irConstants, refused);
                if (kernel is null) continue;
                var inputs = node.Inputs.Where(i => i is not null && i.Name.Length > 0).Select(i => SlotOf(i!)).ToList();
                if (inputs.All(s => isStatic[s]) && Kernels.IsFoldable(node))
                {
                    using var scope = torch.NewDisposeScope();
                    kernel(_template);
                    foreach (var o in node.Outputs)
                    {
                        if (o is null || o.Name.Length == 0) continue;
                        var slot = SlotOf(o);
                        var t = _template[slot]!.DetachFromDisposeScope();
                        _owned.Add(t);
                        isStatic[slot] = true;
                        if (t.numel() <= 1 << 16) irConstants[slot] = TorchTensors.ToIr(o.Name, t);
                    }
                    continue;
                }
                steps.Add(new Step(node, kernel));
            }
        if (refused.Count > 0) throw new UnsupportedOpException(UnsupportedOp.Group(refused));
        return steps.ToArray();
    }

    /// <summary>The kernel of a node, or null (the node added to <paramref name="refused"/>) when the executor cannot run it.</summary>
    private Kernel? CreateKernel(Model model, Node node, Dictionary<int, Ir.Tensor> irConstants, List<(Node, string?)> refused)
    {
        if (!Kernels.IsSupported(node))
        {
            refused.Add((node, null));
            return null;
        }
        try
        {
            return Kernels.Create(new KernelContext(this, node, SlotOf, irConstants, model.OpsetVersion(node.Domain) ?? model.DefaultOpset));
        }
        catch (UnsupportedNodeException e)
        {
            refused.Add((node, e.Message));
            return null;
        }
    }

    /// <summary>The op types the executor runs (default domain), sorted.</summary>
    public static IReadOnlyList<string> SupportedOps => Kernels.SupportedOps;

    /// <summary>
    /// Which initializers are parameters: the running statistics of BatchNormalization are buffers; the weights
    /// and biases the op registry names (<see cref="OpRoles.Weights"/>: Conv, ConvTranspose, Gemm, MatMul,
    /// BatchNormalization), the scales and biases of the other normalizations and PRelu's slopes are weights
    /// whatever their size (a one-channel bias too); every other float initializer with more than one element
    /// that feeds a node is a weight. Other scalars (constants such as GELU's 0.5), integer tensors and the
    /// geometry inputs of Resize and Upsample (roi, scales) stay constants.
    /// </summary>
    private static Dictionary<string, ParameterKind> ParameterRoles(Graph graph)
    {
        var roles = new Dictionary<string, ParameterKind>();
        foreach (var node in graph.Nodes)
        {
            var layout = OpRoles.Weights(node);
            for (var i = 0; i < node.Inputs.Count; i++)
            {
                var v = node.Inputs[i];
                if (v?.Const is not { } t || !t.DataType.IsFloat() || node.OpType is "Resize" or "Upsample" && i > 0) continue;
                if (node.OpType == "BatchNormalization" && i >= 3) roles[v.Name] = ParameterKind.Buffer;
                else if (layout is { } l && (i == l.Weight || i == l.Bias) || TrainedWhateverTheirSize.Contains((node.OpType, i)))
                    roles.TryAdd(v.Name, ParameterKind.Weight);
                else if (t.ElementCount > 1) roles.TryAdd(v.Name, ParameterKind.Weight);
            }
        }
        return roles;
    }

    /// <summary>Parameter inputs of ops without a <see cref="WeightLayout"/>, trained even with one element.</summary>
    private static readonly HashSet<(string Op, int Input)> TrainedWhateverTheirSize = new()
    {
        ("PRelu", 1), ("LayerNormalization", 1), ("LayerNormalization", 2), ("InstanceNormalization", 1), ("InstanceNormalization", 2),
    };

    /// <summary>Runs the graph; returns the graph outputs in order.</summary>
    public Tensor[] Forward(params Tensor[] inputs) => Run(inputs, Array.Empty<string>());

    /// <summary>Runs the graph; returns the graph outputs followed by the named intermediate values.</summary>
    public Tensor[] Run(IReadOnlyList<Tensor> inputs, IReadOnlyList<string> extraOutputs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (inputs.Count != _inputSlots.Length)
            throw new DataException($"the model takes {_inputSlots.Length} input(s) ({string.Join(", ", Inputs.Select(i => i.Name))}), {inputs.Count} given");
        CheckBatch(inputs);
        var slots = (Tensor?[])_template.Clone();
        for (var i = 0; i < inputs.Count; i++) slots[_inputSlots[i]] = inputs[i];
        foreach (var step in _steps)
        {
            try
            {
                step.Kernel(slots);
            }
            catch (Exception e) when (e is ExternalException or ArgumentException or InvalidOperationException or IndexOutOfRangeException)
            {
                throw new RuntimeFailureException($"node '{step.Node.DisplayName}' ({step.Node.OpType}) failed in the training executor: {FirstLine(e.Message)}");
            }
        }
        var result = new Tensor[_outputSlots.Length + extraOutputs.Count];
        for (var i = 0; i < _outputSlots.Length; i++)
            result[i] = slots[_outputSlots[i]] ?? throw new RuntimeFailureException($"output '{Outputs[i].Name}' was not computed");
        for (var i = 0; i < extraOutputs.Count; i++)
        {
            if (!_slotOf.TryGetValue(extraOutputs[i], out var slot))
                throw new OptionsException($"the model has no tensor named '{extraOutputs[i]}'");
            result[_outputSlots.Length + i] = slots[slot] ?? throw new OptionsException($"tensor '{extraOutputs[i]}' is not computed by the executor");
        }
        return result;
    }

    /// <summary>
    /// Refuses an input whose first (batch) axis is 0, unless the graph fixes that axis at 0: a batch
    /// without samples is bad input (<see cref="Runtime.OnnxRunner"/> refuses it too), not a run to attempt.
    /// </summary>
    private void CheckBatch(IReadOnlyList<Tensor> inputs)
    {
        for (var i = 0; i < inputs.Count; i++)
        {
            var shape = inputs[i].shape;
            if (shape.Length == 0 || shape[0] != 0) continue;
            if (Inputs[i].Shape is { Rank: > 0 } declared && declared.Dims[0].Value == 0) continue;  // the graph's own empty axis
            throw new DataException($"input '{Inputs[i].Name}' has batch size 0 (shape [{string.Join(",", shape)}]); give at least one sample");
        }
    }

    /// <summary>True when the graph has a value of that name.</summary>
    public bool HasValue(string name) => _slotOf.ContainsKey(name);

    private static string FirstLine(string s)
    {
        var line = s.Split('\n')[0].Trim();
        return line.Length > 300 ? line[..300] + "…" : line;
    }

    /// <summary>A copy of the model with the current weights and buffers written into its initializers.</summary>
    public Model Export()
    {
        var copy = _model.Clone();
        WriteBack(copy);
        return copy;
    }

    /// <summary>Writes the current weights and buffers into a model's initializers of the same names.</summary>
    public void WriteBack(Model target)
    {
        foreach (var p in _parameters)
        {
            var init = target.Graph.FindInitializer(p.Name)
                ?? throw new InvalidOperationException($"the target model has no initializer '{p.Name}'");
            var type = TorchTensors.ScalarTypeOf(p.OriginalType)!.Value;
            using var converted = p.Tensor.detach().to(type);
            var t = TorchTensors.ToIr(p.Name, converted);
            init.Const = new Ir.Tensor(p.Name, p.OriginalType, init.Const!.Dims, t.RawData) { DocString = init.Const.DocString };
        }
    }

    /// <summary>Keeps a scalar operand of a compiled kernel alive until the executor is disposed.</summary>
    internal Scalar Own(Scalar s)
    {
        _scalars.Add(s);
        return s;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _owned) t.Dispose();
        foreach (var s in _scalars) s.Dispose();
        foreach (var q in _quantizers.Values) q.Dispose();
    }
}
