using Shrink.Ir;
using Shrink.Ops;
using Shrink.Techniques;

namespace Shrink.Passes.Quantization;

/// <summary>
/// <c>quantize-dynamic</c>: dynamic quantization, as ONNX Runtime's <c>quantize_dynamic</c> does it, of MatMul and Gemm
/// layers with constant weights and of Conv — the weights become integers offline (per output channel or per tensor), the
/// activations are quantized at run time. MatMul/Gemm: x → DynamicQuantizeLinear → MatMulInteger (int8 weights) → Cast →
/// Mul(x scale · w scale) (+ bias), which ONNX Runtime fuses into its integer MatMul kernels (DynamicQuantizeMatMul /
/// MatMulIntegerToFloat). Conv: x → DynamicQuantizeLinear → ConvInteger (uint8 × int8, the types quantize_dynamic writes,
/// which ONNX Runtime 1.31's CPU kernel runs; older releases took uint8 weights only) → Cast → Mul(x scale · w scale per
/// channel) (+ bias). Needs no calibration data; suits models whose activation ranges vary per input. 8-bit weights use 7
/// bits where <see cref="QuantizationOptions.ReduceRange"/> says so (MatMulInteger's u8×s8 kernels saturate on x86 without
/// VNNI; a note tells); Conv weights only with <see cref="ReduceRange.On"/> (<see cref="ConvReduceRange"/>). Embedding
/// tables (<see cref="Tables"/>) become int8 per tensor, gathered as integers and dequantized after the Gather, as
/// quantize_dynamic's GatherQuant writes them. <see cref="QuantizationOptions.OpTypes"/> selects the op types. Shapes and dynamic
/// axes are unchanged. Counters: <c>layers</c>, <c>conv-layers</c> where Conv layers are quantized, <c>tables</c> where embedding tables are.
/// </summary>
public sealed class QuantizeDynamicPass : Pass
{
    private readonly QuantizationOptions _options;

    public QuantizeDynamicPass(QuantizationOptions options) => _options = options.Validate();

    public override string Id => "quantize-dynamic";

    /// <summary>Everything but the presence of layers (DynamicQuantizeLinear arrived in opset 11).</summary>
    public string? CheckModel(Model model) => new QuantizeStaticPass(_options) { MinimumOpset = 11 }.CheckModel(model);

    public override string? CheckPreconditions(Model model) =>
        CheckModel(model) ?? (Layers(model).Count == 0 && Tables(model).Count == 0 ? $"the model has no {Text.Message.List(QuantizeOpTypes.Dynamic.Where(_options.OpTypes.Contains))} with constant float weights to quantize dynamically" : null);

    /// <summary>
    /// The layers of the op types selected that read a float activation: MatMul with a 2-D constant weight, Gemm without
    /// transA, alpha or beta, and Conv with a constant weight.
    /// </summary>
    public List<Node> Layers(Model model) => model.Graph.TopologicalOrder().Where(n =>
        n.IsDefaultDomain && _options.OpTypes.Contains(n.OpType) && _options.BitsOf(n) > 0 && n.Inputs[0] is { Const: null }
        && n.Inputs.ElementAtOrDefault(1)?.Const is { DataType: DataType.Float } w && (n.OpType == "MatMul" && w.Dims.Length == 2
            || n.OpType == "Gemm" && w.Dims.Length == 2 && n.GetInt("transA", 0) == 0 && n.GetFloat("alpha", 1) == 1 && n.GetFloat("beta", 1) == 1
            || n.OpType == "Conv" && w.Dims.Length >= 3)).ToList();

    /// <summary>
    /// The embedding tables of the op types selected: constant float tables of rank 1 or more read only by Gathers (as their
    /// data), each with the Gathers that read it.
    /// </summary>
    public List<(Value Table, List<Node> Gathers)> Tables(Model model)
    {
        if (!_options.OpTypes.Contains("Gather")) return new();
        return model.Graph.Initializers.Where(v => v.Const is { DataType: DataType.Float, Dims.Length: > 0 } && v.Uses.Count > 0
                && v.Uses.All(u => u.Index == 0 && u.Node.OpType == "Gather" && u.Node.IsDefaultDomain && u.Node.Graph == model.Graph && _options.BitsOf(u.Node) > 0))
            .Select(v => (v, v.Uses.Select(u => u.Node).Distinct().ToList())).ToList();
    }

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        if (CheckPreconditions(model) is { } reason) throw new OptionsException(reason);
        var graph = model.Graph;
        var quantizedInputs = new Dictionary<Value, (Value Q, Value Scale, Value Zero)>();
        var layers = Layers(model);
        var packed = new List<(string, int)>();
        var weights = new List<QuantizedTensor>();
        var (reduceRange, note) = _options.ResolveReduceRange(integerKernels: true);
        // ConvInteger's kernel does not saturate (see ConvReduceRange): the notes on reduce range speak of MatMulInteger.
        if (note is not null && layers.Any(l => _options.BitsOf(l) == 8 && (l.OpType != "Conv" || _options.ReduceRange == ReduceRange.On))) context.Note(note);
        foreach (var layer in layers)
        {
            var x = layer.Inputs[0]!;
            if (!quantizedInputs.TryGetValue(x, out var qx)) quantizedInputs[x] = qx = QuantizeAtRunTime(graph, x);
            var weight = layer.Inputs[1]!;
            var (name, parameters) = layer.OpType == "Conv"
                ? RewriteConv(graph, layer, qx, ConvReduceRange)
                : Rewrite(graph, layer, qx, reduceRange);
            packed.Add((name, _options.BitsOf(layer)));
            weights.Add(parameters);
            graph.RemoveInitializerIfUnused(weight); // layer by layer: the float weight goes as soon as its integer one is made
        }
        var tables = Tables(model);
        foreach (var (table, gathers) in tables)
        {
            var bits = gathers.Min(_options.BitsOf);
            var (name, parameters) = RewriteTable(graph, table, gathers, bits);
            packed.Add((name, bits));
            weights.Add(parameters);
        }
        QuantParams.RecordPackedBits(model, packed);
        if (packed.Any(p => p.Item2 < 8))
            context.Notes.Add($"{(layers.Any(l => l.OpType == "Conv") ? "MatMulInteger and ConvInteger take" : "MatMulInteger takes")} 8-bit weights: the low-bit levels are stored in 8 bits (the size statistics count them packed)");
        graph.RemoveUnusedInitializers();
        var stats = new Dictionary<string, long> { ["layers"] = layers.Count };
        if (layers.Count(l => l.OpType == "Conv") is var convs and > 0) stats["conv-layers"] = convs;
        if (tables.Count > 0) stats["tables"] = tables.Count;
        return new PassResult(model, layers.Count + tables.Count > 0, stats)
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
        var values = WeightMatrixView(layer, layer.Inputs[1]!.Const!.Floats, out var dims);
        return (values.ToArray(), dims);
    }

    /// <summary>
    /// <see cref="WeightMatrix"/> without a copy where none is needed: a MatMul's [K, N] weight is read in place, only a
    /// transposed Gemm weight is copied (transposed).
    /// </summary>
    private static ReadOnlySpan<float> WeightMatrixView(Node layer, ReadOnlySpan<float> values, out long[] dims)
    {
        var w = layer.Inputs[1]!.Const!;
        var transposed = OpRoles.Layer(layer)!.OutputAxis == 0; // the op registry: Gemm with transB holds [N, K]
        // MatMulInteger takes B as [K, N]; Gemm with transB holds [N, K].
        var (k, n) = transposed ? (w.Dims[1], w.Dims[0]) : (w.Dims[0], w.Dims[1]);
        dims = new[] { k, n };
        if (!transposed) return values;
        var kn = new float[k * n];
        for (long r = 0; r < k; r++)
            for (long c = 0; c < n; c++)
                kn[r * n + c] = values[(int)(c * k + r)];
        return kn;
    }

    /// <summary>x → DynamicQuantizeLinear: its uint8 values, scale and zero point, computed at run time.</summary>
    private static (Value Q, Value Scale, Value Zero) QuantizeAtRunTime(Graph graph, Value x)
    {
        var dql = new Node("DynamicQuantizeLinear", "", graph.UniqueName(x.Name + "_DynamicQuantizeLinear"));
        dql.AddInput(x);
        var q = dql.AddOutput(new Value(graph.UniqueName(x.Name + "_quantized"), DataType.UInt8, x.Shape))!;
        var s = dql.AddOutput(new Value(graph.UniqueName(x.Name + "_scale"), DataType.Float, Shape.Of()))!;
        var z = dql.AddOutput(new Value(graph.UniqueName(x.Name + "_zero_point"), DataType.UInt8, Shape.Of()))!;
        if (x.Producer is { } p) graph.InsertAfter(p, dql);
        else graph.InsertBefore(graph.TopologicalOrder()[0], dql);
        return (q, s, z);
    }

    /// <summary>A node of <paramref name="op"/> reading <paramref name="inputs"/>, inserted before <paramref name="layer"/> and named after it.</summary>
    private static Node Op(Graph graph, Node layer, string op, params Value[] inputs)
    {
        var node = new Node(op, "", graph.UniqueName($"{layer.DisplayName}_{op}"));
        foreach (var i in inputs) node.AddInput(i);
        node.AddOutput(new Value(graph.UniqueName($"{layer.DisplayName}_{op}_out")));
        graph.InsertBefore(layer, node);
        return node;
    }

    /// <summary>The integer product, cast to float and multiplied by x scale · w scale; the layer's output replaced by it (+ <paramref name="bias"/>), the layer removed.</summary>
    private static void Rescale(Graph graph, Node layer, Value product, Value xScale, Value wScale, Value? bias)
    {
        var cast = Op(graph, layer, "Cast", product);
        cast.Attributes.Add(Ir.Attribute.Int("to", (long)DataType.Float));
        var scale = Op(graph, layer, "Mul", xScale, wScale).Outputs[0]!;
        var y = Op(graph, layer, "Mul", cast.Outputs[0]!, scale).Outputs[0]!;
        if (bias is not null) y = Op(graph, layer, "Add", y, bias).Outputs[0]!;
        graph.ReplaceAllUsesWith(layer.Outputs[0]!, y);
        graph.RemoveNode(layer, force: true);
    }

    /// <summary>Replaces one layer by MatMulInteger → Cast → Mul (→ Add bias); returns the integer weight's name and its parameters (of the stored [K, N] tensor).</summary>
    private (string Name, QuantizedTensor Parameters) Rewrite(Graph graph, Node layer, (Value Q, Value Scale, Value Zero) x, bool reduceRange)
    {
        using var weight = layer.Inputs[1]!.Const!.ReadFloats(); // an external weight is read, not loaded
        var kn = WeightMatrixView(layer, weight.Values, out var dims);
        var (wq, ws, wz, _) = WeightQuantizer.AddQuantized(graph, layer.Inputs[1]!.Name, kn, dims, SchemeOf(layer, reduceRange));
        var product = Op(graph, layer, "MatMulInteger", x.Q, wq, x.Zero, wz).Outputs[0]!;
        Rescale(graph, layer, product, x.Scale, ws, layer.OpType == "Gemm" && layer.Inputs.ElementAtOrDefault(2) is { Name.Length: > 0 } bias ? bias : null);
        return (wq.Name, QuantizedTensor.FromConstants(layer.Inputs[1]!.Name, QuantizedRole.Weight, _options.BitsOf(layer), wq.Const, ws.Const!, wz.Const,
            _options.PerChannel ? 1 : null, 0));
    }

    /// <summary>
    /// Replaces an embedding table by its int8 levels (one scale for the table, zero point 0: DequantizeLinear is exact
    /// arithmetic, so no reduced range), each Gather of it by a Gather of the levels followed by DequantizeLinear; returns
    /// the levels' name and the parameters.
    /// </summary>
    private static (string Name, QuantizedTensor Parameters) RewriteTable(Graph graph, Value table, List<Node> gathers, int bits)
    {
        var t = table.Const!;
        var scheme = new WeightScheme { Bits = bits, Axis = 0, Granularity = WeightGranularity.PerTensor };
        var (levels, scale, zero, _) = WeightQuantizer.AddQuantized(graph, table.Name, t.Floats.ToArray(), t.Dims, scheme);
        foreach (var gather in gathers)
        {
            var integer = Op(graph, gather, "Gather", levels, gather.Inputs[1]!);
            integer.Attributes.AddRange(gather.Attributes);
            integer.Outputs[0]!.ElementType = DataType.Int8;
            var dequantized = Op(graph, gather, "DequantizeLinear", integer.Outputs[0]!, scale, zero).Outputs[0]!;
            graph.ReplaceAllUsesWith(gather.Outputs[0]!, dequantized);
            graph.RemoveNode(gather, force: true);
        }
        return (levels.Name, QuantizedTensor.FromConstants(table.Name, QuantizedRole.Weight, bits, levels.Const, scale.Const!, zero.Const, null, 0));
    }

    /// <summary>
    /// Whether Conv weights take 7 bits: only with <see cref="ReduceRange.On"/>. ONNX Runtime's ConvInteger does not saturate
    /// full-range int8 weights where MatMulInteger does: on x86 without VNNI, the corpus's resnet18 and mobilenet_v2 come out of
    /// it with full-range int8 weights as they do with uint8 weights (whose u8×u8 kernels widen to int16 before adding).
    /// </summary>
    public bool ConvReduceRange => _options.ReduceRange == ReduceRange.On;

    /// <summary>The scheme of a Conv weight: per output channel (axis 0) or per tensor, 8-bit levels in 7 bits with <paramref name="reduceRange"/>.</summary>
    public WeightScheme ConvSchemeOf(Node layer, bool reduceRange) => new()
    {
        Bits = _options.BitsOf(layer), Axis = 0, ReduceRange = reduceRange,
        Granularity = _options.PerChannel ? WeightGranularity.PerChannel : WeightGranularity.PerTensor,
    };

    /// <summary>
    /// Replaces a Conv by ConvInteger (its attributes; symmetric int8 weights with one zero point 0, which ONNX Runtime's CPU
    /// kernel takes, as it takes uint8 ones; per-channel zero points it does not) → Cast → Mul by x scale · w scale
    /// (shaped [M, 1, …] per channel) (→ Add bias shaped likewise); returns the weight's name and its parameters.
    /// </summary>
    private (string Name, QuantizedTensor Parameters) RewriteConv(Graph graph, Node layer, (Value Q, Value Scale, Value Zero) x, bool reduceRange)
    {
        var w = layer.Inputs[1]!;
        var t = w.Const!;
        using var weight = t.ReadFloats();
        var (levels, scales) = WeightQuantizer.Quantize(weight.Values, t.Dims, ConvSchemeOf(layer, reduceRange));
        var channelDims = new[] { t.Dims[0] }.Concat(Enumerable.Repeat(1L, t.Dims.Length - 2)).ToArray(); // broadcasts over [N, M, spatial…]
        var wq = graph.AddInitializer(new Tensor(w.Name + "_quantized", DataType.Int8, t.Dims, (byte[])(Array)levels));
        var wz = graph.AddInitializer(new Tensor(w.Name + "_zero_point", DataType.Int8, Array.Empty<long>(), new byte[1]));
        var ws = graph.AddInitializer(Tensor.FromFloats(w.Name + "_scale", _options.PerChannel ? channelDims : Array.Empty<long>(), scales));
        var conv = Op(graph, layer, "ConvInteger", x.Q, wq, x.Zero, wz);
        conv.Attributes.AddRange(layer.Attributes); // the Conv is removed: its attributes move
        Value? bias = null;
        if (layer.Inputs.ElementAtOrDefault(2) is { Name.Length: > 0 } b)
            bias = b.Const is { } bt ? graph.AddInitializer(Tensor.FromFloats(b.Name + "_channels", channelDims, bt.Floats.ToArray()))
                : Op(graph, layer, "Reshape", b, graph.AddInitializer(Tensor.FromInt64s(b.Name + "_shape", new long[] { channelDims.Length }, channelDims.Select(d => d == 1 ? 1L : -1L).ToArray()))).Outputs[0]!;
        Rescale(graph, layer, conv.Outputs[0]!, x.Scale, ws, bias);
        var flatScale = Tensor.FromFloats(ws.Name, new[] { (long)scales.Length }, scales);
        var zeros = new Tensor(wz.Name, DataType.Int8, new[] { (long)scales.Length }, new byte[scales.Length]);
        return (wq.Name, QuantizedTensor.FromConstants(w.Name, QuantizedRole.Weight, _options.BitsOf(layer), wq.Const, flatScale, zeros, _options.PerChannel ? 0 : null, 0));
    }
}
