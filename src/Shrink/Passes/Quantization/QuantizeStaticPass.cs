using Shrink.Ir;
using Shrink.Ops;
using Shrink.Techniques;
using Shrink.Text;

namespace Shrink.Passes.Quantization;

/// <summary>
/// <c>quantize-static</c>: post-training static quantization to ONNX QDQ, placed where ONNX Runtime
/// fuses it into integer kernels. Conv, Gemm and MatMul with constant weights get int8 weights
/// (per output channel or per tensor) behind DequantizeLinear, an int32 bias (scale = input scale ×
/// weight scale) and QuantizeLinear → DequantizeLinear on their activation inputs and outputs
/// (QLinearConv, QGemm, QLinearMatMul). Pooling, Add, Concat and the reshaping ops between quantized
/// layers are quantized too (QLinear kernels, or dropped Q/DQ pairs where the op only moves values);
/// reshaping ops and MaxPool reuse their input's parameters. A Relu or Clip(0, …) right after a
/// quantized layer is removed when activations are uint8: the layer's output is quantized with the
/// activation's range, which clamps exactly as it did (what ONNX Runtime's quantizer does).
/// Activation parameters come from <see cref="Ranges"/> (see <see cref="Calibrator"/>), keyed by
/// the names <see cref="Plan"/> lists. Needs calibration data, except for weight-only quantization
/// (activations float: weights behind DequantizeLinear, biases and activations untouched). Weights
/// below 8 bits are stored as ONNX INT4 (opset raised to 21; per channel, per tensor or block-wise
/// along the reduction axis) or as int8 levels (<see cref="QuantizationOptions.LowBitStorage"/>); 8-bit
/// weights in 7 bits where <see cref="QuantizationOptions.ReduceRange"/> says so (a note tells).
/// Shapes, dynamic axes and the rest of the graph are unchanged. Counters: <c>layers</c> (weights quantized), <c>tensors</c> (activations
/// quantized), <c>activations-removed</c>.
/// </summary>
public sealed class QuantizeStaticPass : Pass
{
    // Quantization roles come from the op registry (OpRoles): layers with weights, ops between quantized
    // layers that keep their input's parameters, and ops between them that requantize.
    private static readonly HashSet<string> Weighted = OpRoles.OpsWith(QuantizationRole.Weighted);
    private static readonly HashSet<string> SameScale = OpRoles.OpsWith(QuantizationRole.SameScale);
    private static readonly HashSet<string> Requantizing = OpRoles.OpsWith(QuantizationRole.Requantizing);

    private readonly QuantizationOptions _options;

    private readonly bool _rangesGiven;

    /// <summary>
    /// A pass quantizing with <paramref name="options"/>. Activation ranges come from <paramref name="ranges"/>, or,
    /// when none are given, from an <see cref="ActivationRanges"/> artifact in the context (a calibration step's);
    /// weight-only quantization (activations float) needs none.
    /// </summary>
    public QuantizeStaticPass(QuantizationOptions options, IReadOnlyDictionary<string, (double Min, double Max)>? ranges = null)
    {
        _options = options.Validate();
        _rangesGiven = ranges is not null;
        Ranges = ranges ?? new Dictionary<string, (double, double)>();
    }

    public QuantizeStaticPass(QuantizationOptions options, ActivationRanges ranges) : this(options, ranges.ToPairs()) { }

    public override string Id => "quantize-static";

    /// <summary>
    /// Quantization-aware training's graph: Q/DQ on the activations only (ReLUs folded as usual), the
    /// weights left in float for the trainer to keep on their grid.
    /// </summary>
    public bool ActivationsOnly { get; init; }

    /// <summary>The ranges given to the constructor (empty when none were: they come from the context then).</summary>
    public IReadOnlyDictionary<string, (double Min, double Max)> Ranges { get; }

    /// <summary>What the pass will do to a float model: the layers it quantizes and the values to calibrate.</summary>
    public sealed record QuantPlan(
        IReadOnlyList<Node> Layers,
        IReadOnlyList<Node> Others,
        IReadOnlyList<Node> RemovedActivations,
        IReadOnlyList<Value> Tensors,
        IReadOnlyDictionary<Value, Value> CalibrateAs,
        IReadOnlyDictionary<Value, Value> SameAs)
    {
        /// <summary>Names of the values whose ranges calibration must collect (on the unmodified model).</summary>
        public IReadOnlyList<string> CalibrationValues =>
            Tensors.Where(t => !SameAs.ContainsKey(t)).Select(t => (CalibrateAs.GetValueOrDefault(t) ?? t).Name).Distinct().ToList();
    }

    /// <summary>Per-axis QuantizeLinear/DequantizeLinear arrived in opset 13.</summary>
    public int MinimumOpset { get; init; } = 13;

    /// <summary>Checks everything but the presence of layers: an already-quantized model, the opset, NaN or infinite weights.</summary>
    public string? CheckModel(Model model)
    {
        if (model.Graph.Nodes.FirstOrDefault(n => n.OpType is "QuantizeLinear" or "DequantizeLinear" or "DynamicQuantizeLinear" or "MatMulInteger"
                or "ConvInteger" || n.OpType.StartsWith("QLinear") || n.OpType.StartsWith("DynamicQuantize")) is { } q)
            return $"the model is already quantized (it has {q.OpType} '{q.DisplayName}'); quantize the float model it came from";
        if ((model.OpsetVersion("") ?? model.DefaultOpset) < MinimumOpset)
            return $"the model uses opset {model.OpsetVersion("") ?? model.DefaultOpset}; {Id} needs opset {MinimumOpset} or later (re-export it with opset ≥ {MinimumOpset})";
        foreach (var node in model.Graph.Nodes.Where(n => Weighted.Contains(n.OpType)))
            foreach (var w in node.Inputs.Skip(1).OfType<Value>())
                if (w.Const is { DataType: DataType.Float } t && t.AsFloats().ToArray().Any(x => !float.IsFinite(x)))
                    return $"'{w.Name}' of '{node.DisplayName}' holds NaN or infinite weights; fix or retrain the model before quantizing";
        return null;
    }

    public override string? CheckPreconditions(Model model) =>
        CheckModel(model) ?? (Plan(model).Layers.Count == 0 ? "the model has no Conv, Gemm or MatMul with constant float weights to quantize" : null);

    /// <summary>Decides what gets quantized (a pure function of the model and the options).</summary>
    public QuantPlan Plan(Model model)
    {
        ShapeInference.Run(model); // element types of the activations
        var graph = model.Graph;
        var layers = new List<Node>();
        var others = new List<Node>();
        var quantized = new HashSet<Value>(); // activation values that will carry Q/DQ
        var removed = new List<Node>();
        var calibrateAs = new Dictionary<Value, Value>();
        var sameAs = new Dictionary<Value, Value>();
        bool Float(Value? v) => v is not null && v.Const is null && Graph.ConstantOf(v) is null && v.ElementType == DataType.Float;
        foreach (var node in graph.TopologicalOrder())
        {
            if (!node.IsDefaultDomain || _options.Exclude.Contains(node.Name)) continue;
            if (IsLayer(node) && _options.BitsOf(node) > 0)
            {
                layers.Add(node);
                if (_options.Activations == DataType.Float) continue; // weight-only
                quantized.Add(node.Inputs[0]!);
                var y = node.Outputs[0]!;
                // A Relu / Clip(0, …) right after: removed, and the layer's output takes its range (uint8 clamps at the zero point).
                if (_options.Activations == DataType.UInt8 && y.Uses.Count == 1 && !graph.Outputs.Contains(y) && y.Uses[0].Node is var act
                    && act.IsDefaultDomain && !_options.Exclude.Contains(act.Name) && (act.OpType == "Relu" || act.OpType == "Clip" && ClipBounds.Of(act) is { Min: 0 }))
                {
                    removed.Add(act);
                    calibrateAs[y] = act.Outputs[0]!;
                }
                // QLinearConv needs a quantized output; Gemm and MatMul may end in float (QGemm, MatMulIntegerToFloat): the logits stay exact.
                if (node.OpType == "Conv" || !graph.Outputs.Contains(y)) quantized.Add(y);
                continue;
            }
            var inputs = node.Inputs.Where(Float).Select(v => RemovedInput(v!, removed)).ToList();
            if (inputs.Count == 0 || !inputs.Any(quantized.Contains)) continue;
            if (SameScale.Contains(node.OpType) && inputs.Count == 1 && node.Outputs[0] is { } o && o.ElementType == DataType.Float)
            {
                var source = inputs[0];
                others.Add(node);
                quantized.Add(o);
                sameAs[o] = sameAs.GetValueOrDefault(source) ?? source;
            }
            else if (Requantizing.Contains(node.OpType) && node.Outputs[0] is { } r && r.ElementType == DataType.Float)
            {
                others.Add(node);
                foreach (var i in inputs) quantized.Add(i);
                quantized.Add(r);
            }
        }
        // Outputs of removed activations are read as the layer's output.
        var tensors = quantized.Where(v => !removed.Any(a => a.Outputs[0] == v)).Distinct().ToList();
        return new QuantPlan(layers, others, removed, tensors, calibrateAs, sameAs);
    }

    /// <summary>The value a removed activation's output stands for (its input), else the value itself.</summary>
    private static Value RemovedInput(Value v, List<Node> removed) =>
        removed.FirstOrDefault(a => a.Outputs[0] == v) is { } a ? a.Inputs[0]! : v;

    private static bool IsLayer(Node n)
    {
        if (!Weighted.Contains(n.OpType) || n.Inputs.ElementAtOrDefault(1)?.Const is not { DataType: DataType.Float } w) return false;
        if (n.Inputs[0] is not { ElementType: DataType.Float } x || x.Const is not null) return false;
        return n.OpType switch
        {
            "Conv" => w.Dims.Length >= 3,
            "Gemm" => n.GetInt("transA", 0) == 0 && w.Dims.Length == 2 && n.GetFloat("alpha", 1) == 1 && n.GetFloat("beta", 1) == 1,
            _ => w.Dims.Length == 2,
        };
    }

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        if (CheckPreconditions(model) is { } reason) throw new OptionsException(reason);
        var graph = model.Graph;
        var plan = Plan(model);
        var parameters = ActivationParameters(plan, RangesFor(plan, context));
        var floatNames = plan.Layers.Select(l => (Layer: l, Weight: l.Inputs[1]!.Name, Bias: l.Inputs.ElementAtOrDefault(2)?.Name)).ToList();

        foreach (var act in plan.RemovedActivations)
        {
            graph.ReplaceAllUsesWith(act.Outputs[0]!, act.Inputs[0]!);
            graph.RemoveNode(act);
        }
        if (!ActivationsOnly)
        {
            var storage = LowBitStorageFor(model, plan, context);
            var (reduceRange, note) = _options.ResolveReduceRange(integerKernels: _options.Activations != DataType.Float);
            if (note is not null && plan.Layers.Any(l => _options.BitsOf(l) == 8)) context.Note(note);
            var floatBiases = new List<string>();
            var packed = plan.Layers.Select(layer => (QuantizeWeights(graph, layer, parameters.TryGetValue(layer.Inputs[0]!, out var x) ? x : null, storage, reduceRange,
                floatBiases), _options.BitsOf(layer))).ToList();
            QuantParams.RecordPackedBits(model, packed);
            if (floatBiases.Count > 0)
                context.Notes.Add($"the bias of {floatBiases.Count} layer{(floatBiases.Count == 1 ? "" : "s")} stays float ({Message.List(floatBiases.Take(3).Select(n => $"'{Message.Name(n)}'"))}" +
                    $"{(floatBiases.Count > 3 ? ", …" : "")}): in int32 at input scale × weight scale it would overflow, its input's range being tiny next to it");
        }
        // Tensors that keep their input's parameters (MaxPool, reshapes) share its scale and zero point initializers.
        var inserted = new Dictionary<Value, (Value Scale, Value Zero)>();
        var scales = new List<ActivationScale>();
        foreach (var t in plan.Tensors.Where(t => !plan.SameAs.ContainsKey(t)))
        {
            inserted[t] = InsertQdq(graph, t, parameters[t], null);
            var key = (plan.CalibrateAs.GetValueOrDefault(t) ?? t).Name;
            var activation = plan.RemovedActivations.FirstOrDefault(a => a.Outputs[0]!.Name == key);
            var (lower, upper) = activation is null ? (double.NegativeInfinity, double.PositiveInfinity)
                : activation.OpType == "Relu" ? (0, double.PositiveInfinity) : ClipBounds.Of(activation)!.Value;
            scales.Add(new ActivationScale(key, inserted[t].Scale.Name, lower, upper));
        }
        foreach (var t in plan.Tensors.Where(plan.SameAs.ContainsKey)) InsertQdq(graph, t, parameters[t], inserted[plan.SameAs[t]]);
        graph.RemoveUnusedInitializers();
        return new PassResult(model, true, new Dictionary<string, long>
        {
            ["layers"] = plan.Layers.Count, ["tensors"] = plan.Tensors.Count, ["activations-removed"] = plan.RemovedActivations.Count,
        })
        {
            Artifacts = new IArtifact[] { new ActivationQuantizers { Scales = scales }, Parameters(floatNames, plan, parameters) },
        };
    }

    /// <summary>The ranges given to the constructor, else those of the context; null when the activations need none (weight-only quantization).</summary>
    private IReadOnlyDictionary<string, (double Min, double Max)>? RangesFor(QuantPlan plan, PassContext context)
    {
        if (_rangesGiven) return Ranges;
        if (context.Artifact<ActivationRanges>() is { } calibrated) return calibrated.ToPairs();
        if (plan.Tensors.Count == 0) return null;
        throw new OptionsException($"{Id} needs the ranges of {plan.CalibrationValues.Count} activations: calibrate on data first " +
            "(Calibrator.Collect, or the quantize technique, which does it in one call) and give them as ActivationRanges, or quantize the weights only (activations float)");
    }

    /// <summary>Scale and zero point of every activation the plan quantizes, from its calibrated range.</summary>
    private Dictionary<Value, QuantParams> ActivationParameters(QuantPlan plan, IReadOnlyDictionary<string, (double Min, double Max)>? ranges)
    {
        var parameters = new Dictionary<Value, QuantParams>();
        QuantParams ParamsOf(Value v)
        {
            if (parameters.TryGetValue(v, out var p)) return p;
            if (plan.SameAs.TryGetValue(v, out var same)) return parameters[v] = ParamsOf(same);
            var source = plan.CalibrateAs.GetValueOrDefault(v) ?? v;
            if (ranges is null || !ranges.TryGetValue(source.Name, out var range))
                throw new OptionsException($"no activation range for '{source.Name}': the ranges were calibrated on another model");
            return parameters[v] = QuantParams.ForRange(range.Min, range.Max, _options.Activations);
        }
        foreach (var t in plan.Tensors) ParamsOf(t);
        return parameters;
    }

    /// <summary>The quantization-parameters artifact, read off the rewritten graph: each layer's weight (and int32 bias) DequantizeLinear, each activation's parameters.</summary>
    private QuantizationParameters Parameters(IEnumerable<(Node Layer, string Weight, string? Bias)> layers, QuantPlan plan, Dictionary<Value, QuantParams> activations)
    {
        var tensors = new List<QuantizedTensor>();
        foreach (var (layer, weight, bias) in layers)
        {
            if (layer.Inputs[1]?.Producer is { OpType: "DequantizeLinear" } w)
                tensors.Add(QuantizedTensor.FromDequantize(weight, QuantizedRole.Weight, w, _options.BitsOf(layer)));
            if (bias is not null && layer.Inputs.ElementAtOrDefault(2)?.Producer is { OpType: "DequantizeLinear" } b)
                tensors.Add(QuantizedTensor.FromDequantize(bias, QuantizedRole.Bias, b, 32));
        }
        tensors.AddRange(plan.Tensors.Select(t => QuantizedTensor.Activation(t.Name, activations[t])));
        return new QuantizationParameters { Tensors = tensors };
    }

    /// <summary>
    /// INT4 when low-bit layers are asked for in INT4 and the opset can be raised to 21 (it is, here);
    /// otherwise int8 levels, with a note saying why.
    /// </summary>
    private DataType LowBitStorageFor(Model model, QuantPlan plan, PassContext context)
    {
        var (storage, reason) = ResolveStorage(model, plan);
        if (reason is not null) context.Notes.Add($"low-bit weights kept as int8 levels (not ONNX int4, which needs opset {Int4Opset}): {reason}");
        if (storage != DataType.Int4) return storage;
        OpsetUpgrade.To(model, Int4Opset);
        const string kernels = "ONNX Runtime 1.31 has no integer Conv or Gemm kernel for int4 weights: it dequantizes them and runs float kernels "
            + "(a MatMul with block-wise int4 weights and float activations may become MatMulNBits)";
        context.Note(OptionText.Of($"low-bit weights stored as ONNX int4 (opset raised to {Int4Opset}); {kernels}; {OptionName.Of(nameof(QuantizationOptions.LowBitStorage))} int8 keeps its int8 kernels"));
        return DataType.Int4;
    }

    /// <summary>
    /// The container of the low-bit weights of <paramref name="plan"/> (without changing the model): INT4 when
    /// asked and the opset can be raised to 21, else int8, with the reason when INT4 was asked but cannot be had.
    /// </summary>
    private (DataType Storage, string? Reason) ResolveStorage(Model model, QuantPlan plan)
    {
        if (_options.LowBitStorage != DataType.Int4 || !plan.Layers.Any(l => _options.BitsOf(l) <= 4)) return (DataType.Int8, null);
        return OpsetUpgrade.Check(model, Int4Opset) is { } reason ? (DataType.Int8, reason) : (DataType.Int4, null);
    }

    /// <summary>
    /// The scheme each weight of <paramref name="model"/> will be quantized with, by weight name: what the export
    /// writes, and so what quantization-aware training must train on (block-wise where the weights are stored as
    /// INT4 with a block size; 7-bit where <see cref="QuantizationOptions.ResolveReduceRange"/> says so).
    /// </summary>
    public IReadOnlyDictionary<string, WeightScheme> WeightSchemes(Model model)
    {
        var plan = Plan(model);
        var (storage, _) = ResolveStorage(model, plan);
        var reduceRange = _options.ResolveReduceRange(integerKernels: _options.Activations != DataType.Float).On;
        return plan.Layers.ToDictionary(l => l.Inputs[1]!.Name, l => SchemeOf(l, storage, reduceRange));
    }

    /// <summary>The scheme of one layer's weight with the low-bit weights in <paramref name="storage"/>.</summary>
    public WeightScheme SchemeOf(Node layer, DataType storage, bool reduceRange)
    {
        var bits = _options.BitsOf(layer);
        var block = storage == DataType.Int4 && bits <= 4 ? _options.BlockSize : 0;
        return new WeightScheme
        {
            Bits = bits, BlockSize = block, ReduceRange = reduceRange, Axis = block > 0 ? ReductionAxis(layer) : OutputChannelAxis(layer),
            Granularity = block > 0 ? WeightGranularity.BlockWise : _options.PerChannel ? WeightGranularity.PerChannel : WeightGranularity.PerTensor,
        };
    }

    /// <summary>The weight axis of a layer's output channels (the op registry's <see cref="WeightLayout.OutputAxis"/>): 0 for Conv and Gemm with transB, else 1.</summary>
    public static int OutputChannelAxis(Node layer) => OpRoles.Layer(layer)!.OutputAxis;

    /// <summary>The weight axis a layer sums over (Conv input channels, Gemm/MatMul K): 1 for Conv and Gemm with transB, else 0.</summary>
    public static int ReductionAxis(Node layer) => OpRoles.Layer(layer)!.InputAxis;

    /// <summary>DequantizeLinear takes INT4 from opset 21.</summary>
    public const int Int4Opset = 21;

    /// <summary>int8 weights (low-bit levels where asked, INT4 when <paramref name="storage"/> says so) and an int32 bias behind DequantizeLinear; returns the weight tensor's name.</summary>
    /// <summary>The largest |int32 bias| written: more would leave too little headroom for the products the kernel adds to it.</summary>
    public const double BiasLimit = 1 << 30;

    private string QuantizeWeights(Graph graph, Node layer, QuantParams? input, DataType storage, bool reduceRange, List<string> floatBiases)
    {
        var w = layer.Inputs[1]!;
        var t = w.Const!;
        var channels = (int)t.Dims[OutputChannelAxis(layer)];
        var scheme = SchemeOf(layer, storage, reduceRange);
        var block = scheme.Granularity == WeightGranularity.BlockWise ? scheme.BlockSize : 0;
        var (qw, ws, wz, scales) = WeightQuantizer.AddQuantized(graph, w.Name, t.AsFloats().ToArray(), t.Dims, scheme, storage);
        var name = layer.DisplayName;
        var dq = Dequantize(graph, name + "_weight", qw, ws, wz, scheme.Granularity == WeightGranularity.PerTensor ? null : scheme.Axis, DataType.Float);
        if (block > 0) dq.Producer!.Attributes.Add(Ir.Attribute.Int("block_size", block));
        layer.SetInput(1, dq);

        // Block-wise weights have no scale per output channel for an int32 bias, nor float activations an input scale: the bias stays float.
        if (input is not { } x || block > 0 || layer.OpType == "MatMul" || layer.Inputs.ElementAtOrDefault(2) is not { Const: { DataType: DataType.Float, Dims.Length: 1 } bias } b
            || bias.Dims[0] != channels) return qw.Name;
        var bv = bias.AsFloats().ToArray();
        var bscale = bv.Select((_, c) => x.Scale * scales[_options.PerChannel ? c : 0]).ToArray();
        // A bias far larger than input scale × weight scale (an input range near zero) would saturate in int32 and vanish: it stays float, as it was.
        if (bv.Where((v, c) => Math.Abs(Math.Round(v / (double)bscale[c])) > BiasLimit).Any())
        {
            floatBiases.Add(layer.DisplayName);
            return qw.Name;
        }
        var bq = bv.Select((x, c) => (int)Math.Clamp(Math.Round(x / bscale[c]), int.MinValue, int.MaxValue)).ToArray();
        var qb = graph.AddInitializer(new Tensor(b.Name + "_quantized", DataType.Int32, bias.Dims, bq.SelectMany(BitConverter.GetBytes).ToArray()));
        var bs = graph.AddInitializer(Tensor.FromFloats(b.Name + "_scale", bias.Dims, bscale));
        var bz = graph.AddInitializer(new Tensor(b.Name + "_zero_point", DataType.Int32, bias.Dims, new byte[bias.Dims[0] * 4]));
        layer.SetInput(2, Dequantize(graph, name + "_bias", qb, bs, bz, 0, DataType.Float));
        return qw.Name;
    }

    /// <summary>
    /// x → QuantizeLinear → DequantizeLinear; every reader of x then reads the dequantized value. The scale
    /// and zero point are new initializers, or <paramref name="shared"/> ones; returns them.
    /// </summary>
    private static (Value Scale, Value Zero) InsertQdq(Graph graph, Value x, QuantParams p, (Value Scale, Value Zero)? shared)
    {
        var readers = x.Uses.ToList();
        var isOutput = graph.Outputs.Contains(x);
        var (scale, zero) = shared ?? (graph.AddInitializer(Tensor.FromFloats(x.Name + "_scale", Array.Empty<long>(), new[] { p.Scale })),
            graph.AddInitializer(new Tensor(x.Name + "_zero_point", p.Type, Array.Empty<long>(), new[] { p.Type == DataType.UInt8 ? (byte)p.ZeroPoint : (byte)(sbyte)p.ZeroPoint })));
        if (readers.Count == 0 && !isOutput) return (scale, zero);
        var quantize = new Node("QuantizeLinear", "", graph.UniqueName(x.Name + "_QuantizeLinear"));
        quantize.AddInput(x);
        quantize.AddInput(scale);
        quantize.AddInput(zero);
        var q = quantize.AddOutput(new Value(graph.UniqueName(x.Name + "_quantized"), p.Type, x.Shape))!;
        if (x.Producer is { } producer) graph.InsertAfter(producer, quantize);
        else graph.InsertBefore(graph.TopologicalOrder()[0], quantize);
        var dq = Dequantize(graph, x.Name, q, scale, zero, null, DataType.Float, after: quantize);
        dq.Shape = x.Shape;
        foreach (var use in readers) use.Node.SetInput(use.Index, dq);
        if (isOutput)
        {
            graph.ReplaceAllUsesWith(x, dq);  // the graph output (and its name) becomes the dequantized value…
            quantize.SetInput(0, x);          // …but QuantizeLinear still reads x, or the graph would have a cycle
        }
        return (scale, zero);
    }

    private static Value Dequantize(Graph graph, string name, Value q, Value scale, Value zero, int? axis, DataType type, Node? after = null)
    {
        var node = new Node("DequantizeLinear", "", graph.UniqueName(name + "_DequantizeLinear"));
        node.AddInput(q);
        node.AddInput(scale);
        node.AddInput(zero);
        if (axis is { } a) node.Attributes.Add(Ir.Attribute.Int("axis", a));
        var output = node.AddOutput(new Value(graph.UniqueName(name + "_dequantized"), type))!;
        if (after is not null) graph.InsertAfter(after, node);
        else graph.InsertBefore(graph.TopologicalOrder()[0], node);
        return output;
    }
}
