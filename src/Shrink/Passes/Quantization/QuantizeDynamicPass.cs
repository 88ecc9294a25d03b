using Shrink.Ir;
using Shrink.Ops;
using Shrink.Techniques;

namespace Shrink.Passes.Quantization;

/// <summary>
/// <c>quantize-dynamic</c>: dynamic quantization of MatMul and Gemm layers with constant weights —
/// the weights become int8 offline (per output column or per tensor), the activations are quantized
/// at run time: x → DynamicQuantizeLinear → MatMulInteger → Cast → Mul(x scale · w scale) (+ bias),
/// which ONNX Runtime fuses into its integer MatMul kernels (DynamicQuantizeMatMul /
/// MatMulIntegerToFloat). Needs no calibration data; suits MatMul-heavy models (MLPs, transformers)
/// whose activation ranges vary per input. 8-bit weights use 7 bits where
/// <see cref="QuantizationOptions.ReduceRange"/> says so (MatMulInteger's u8×s8 kernels saturate on x86
/// without VNNI; a note tells). Shapes and dynamic axes are unchanged.
/// Counters: <c>layers</c>.
/// </summary>
public sealed class QuantizeDynamicPass : Pass
{
    private readonly QuantizationOptions _options;

    public QuantizeDynamicPass(QuantizationOptions options) => _options = options.Validate();

    public override string Id => "quantize-dynamic";

    /// <summary>Everything but the presence of layers (DynamicQuantizeLinear arrived in opset 11).</summary>
    public string? CheckModel(Model model) => new QuantizeStaticPass(_options) { MinimumOpset = 11 }.CheckModel(model);

    public override string? CheckPreconditions(Model model) =>
        CheckModel(model) ?? (Layers(model).Count == 0 ? "the model has no MatMul or Gemm with constant float weights to quantize dynamically" : null);

    /// <summary>MatMul with a 2-D constant weight, and Gemm without transA, alpha or beta, that read a float activation.</summary>
    public List<Node> Layers(Model model) => model.Graph.TopologicalOrder().Where(n =>
        n.IsDefaultDomain && _options.BitsOf(n) > 0 && n.Inputs.ElementAtOrDefault(1)?.Const is { DataType: DataType.Float, Dims.Length: 2 }
        && n.Inputs[0] is { Const: null } && (n.OpType == "MatMul"
            || n.OpType == "Gemm" && n.GetInt("transA", 0) == 0 && n.GetFloat("alpha", 1) == 1 && n.GetFloat("beta", 1) == 1)).ToList();

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        if (CheckPreconditions(model) is { } reason) throw new OptionsException(reason);
        var graph = model.Graph;
        var quantizedInputs = new Dictionary<Value, (Value Q, Value Scale, Value Zero)>();
        var layers = Layers(model);
        var packed = new List<(string, int)>();
        var weights = new List<QuantizedTensor>();
        var (reduceRange, note) = _options.ResolveReduceRange(integerKernels: true);
        if (note is not null && layers.Any(l => _options.BitsOf(l) == 8)) context.Note(note);
        foreach (var layer in layers)
        {
            var x = layer.Inputs[0]!;
            if (!quantizedInputs.TryGetValue(x, out var qx))
            {
                var dql = new Node("DynamicQuantizeLinear", "", graph.UniqueName(x.Name + "_DynamicQuantizeLinear"));
                dql.AddInput(x);
                var q = dql.AddOutput(new Value(graph.UniqueName(x.Name + "_quantized"), DataType.UInt8, x.Shape))!;
                var s = dql.AddOutput(new Value(graph.UniqueName(x.Name + "_scale"), DataType.Float, Shape.Of()))!;
                var z = dql.AddOutput(new Value(graph.UniqueName(x.Name + "_zero_point"), DataType.UInt8, Shape.Of()))!;
                if (x.Producer is { } p) graph.InsertAfter(p, dql);
                else graph.InsertBefore(graph.TopologicalOrder()[0], dql);
                quantizedInputs[x] = qx = (q, s, z);
            }
            var (name, parameters) = Rewrite(graph, layer, qx, reduceRange);
            packed.Add((name, _options.BitsOf(layer)));
            weights.Add(parameters);
        }
        QuantParams.RecordPackedBits(model, packed);
        if (packed.Any(p => p.Item2 < 8))
            context.Notes.Add("MatMulInteger takes 8-bit weights: the low-bit levels are stored in int8 (the size statistics count them packed)");
        graph.RemoveUnusedInitializers();
        return new PassResult(model, layers.Count > 0, new Dictionary<string, long> { ["layers"] = layers.Count })
        {
            Artifacts = new IArtifact[] { new QuantizationParameters { Tensors = weights } },
        };
    }

    /// <summary>
    /// The scheme of a layer's weight, which this pass quantizes as MatMulInteger's [K, N] (a Gemm's transB weight
    /// transposed): per output column (axis 1) or per tensor, 8-bit levels in 7 bits with <paramref name="reduceRange"/>.
    /// </summary>
    public WeightScheme SchemeOf(Node layer, bool reduceRange) => new()
    {
        Bits = _options.BitsOf(layer), Axis = 1, ReduceRange = reduceRange,
        Granularity = _options.PerChannel ? WeightGranularity.PerChannel : WeightGranularity.PerTensor,
    };

    /// <summary>A layer's weight as MatMulInteger takes it, [K, N] (a Gemm with transB holds [N, K]).</summary>
    public static (float[] Values, long[] Dims) WeightMatrix(Node layer)
    {
        var w = layer.Inputs[1]!.Const!;
        var transposed = OpRoles.Layer(layer)!.OutputAxis == 0; // the op registry: Gemm with transB holds [N, K]
        // MatMulInteger takes B as [K, N]; Gemm with transB holds [N, K].
        var (k, n) = transposed ? (w.Dims[1], w.Dims[0]) : (w.Dims[0], w.Dims[1]);
        var values = w.AsFloats().ToArray();
        var kn = new float[k * n];
        for (long r = 0; r < k; r++)
            for (long c = 0; c < n; c++)
                kn[r * n + c] = transposed ? values[c * k + r] : values[r * n + c];
        return (kn, new[] { k, n });
    }

    /// <summary>Replaces one layer by MatMulInteger → Cast → Mul (→ Add bias); returns the integer weight's name and its parameters (of the stored [K, N] tensor).</summary>
    private (string Name, QuantizedTensor Parameters) Rewrite(Graph graph, Node layer, (Value Q, Value Scale, Value Zero) x, bool reduceRange)
    {
        var (kn, dims) = WeightMatrix(layer);
        var (wq, ws, wz, _) = WeightQuantizer.AddQuantized(graph, layer.Inputs[1]!.Name, kn, dims, SchemeOf(layer, reduceRange));
        var name = layer.DisplayName;

        Node Op(string op, params Value[] inputs)
        {
            var node = new Node(op, "", graph.UniqueName($"{name}_{op}"));
            foreach (var i in inputs) node.AddInput(i);
            node.AddOutput(new Value(graph.UniqueName($"{name}_{op}_out")));
            graph.InsertBefore(layer, node);
            return node;
        }
        var product = Op("MatMulInteger", x.Q, wq, x.Zero, wz).Outputs[0]!;
        var cast = Op("Cast", product);
        cast.Attributes.Add(Ir.Attribute.Int("to", (long)DataType.Float));
        var scale = Op("Mul", x.Scale, ws).Outputs[0]!;
        var y = Op("Mul", cast.Outputs[0]!, scale).Outputs[0]!;
        if (layer.OpType == "Gemm" && layer.Inputs.ElementAtOrDefault(2) is { Name.Length: > 0 } bias) y = Op("Add", y, bias).Outputs[0]!;
        graph.ReplaceAllUsesWith(layer.Outputs[0]!, y);
        graph.RemoveNode(layer, force: true);
        return (wq.Name, QuantizedTensor.FromConstants(layer.Inputs[1]!.Name, QuantizedRole.Weight, _options.BitsOf(layer), wq.Const, ws.Const!, wz.Const,
            _options.PerChannel ? 1 : null, 0));
    }
}
