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
/// Weight-only int4 MatMul and Gemm layers become ONNX Runtime's MatMulNBits where <see cref="QuantizationOptions.MatMulNBits"/> is set.
/// Shapes, dynamic axes and the rest of the graph are unchanged. Counters: <c>layers</c> (weights quantized), <c>tensors</c> (activations
/// quantized), <c>activations-removed</c>, <c>activation-matmuls</c> where MatMuls of two activations are quantized
/// (attention's Q·Kᵀ and attention·V, both inputs behind Q/DQ, unless <see cref="QuantizationOptions.MatMulConstBOnly"/>;
/// a Softmax output read by one takes ONNX Runtime's fixed range [0, 1]), and with MatMulNBits set, <c>matmul-nbits</c>
/// (layers written as MatMulNBits). <see cref="QuantizationOptions.OpTypes"/> limits the op types quantized.
/// </summary>
public sealed partial class QuantizeStaticPass : Pass
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

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        if (CheckPreconditions(model) is { } reason) throw new OptionsException(reason);
        var graph = model.Graph;
        var plan = Plan(model);
        if (!ActivationsOnly && FloatLayersNote(model, plan) is { } floatLayers) context.Note(floatLayers);
        var parameters = ActivationParameters(plan, RangesFor(plan, context));
        var floatNames = plan.Layers.Select(l => (Layer: l, Weight: l.Inputs[1]!.Name, Bias: l.Inputs.ElementAtOrDefault(2)?.Name)).ToList();

        foreach (var act in plan.RemovedActivations)
        {
            graph.ReplaceAllUsesWith(act.Outputs[0]!, act.Inputs[0]!);
            graph.RemoveNode(act);
        }
        var nbits = new NBitsLayers(new List<QuantizedTensor>(), new List<(string, string)>());
        if (!ActivationsOnly)
        {
            var storage = LowBitStorageFor(model, plan, context);
            var (reduceRange, note) = _options.ResolveReduceRange(integerKernels: _options.Activations != DataType.Float);
            if (note is not null && plan.Layers.Any(l => _options.BitsOf(l) == 8)) context.Note(note);
            var floatBiases = new List<string>();
            var integer = plan.Layers.ToDictionary(l => l, l => IntegerKernel(model, l, plan)); // 7-bit weights only where integer kernels read them
            var packed = plan.Layers.Select(layer => (QuantizeWeights(model, layer, parameters.TryGetValue(layer.Inputs[0]!, out var x) ? x : null, storage,
                reduceRange && integer[layer], floatBiases, nbits), _options.BitsOf(layer))).ToList();
            QuantParams.RecordPackedBits(model, packed.Where(p => p.Item1 is not null).Select(p => (p.Item1!, p.Item2)));
            if (_options.MatMulNBits is not null) NoteNBits(nbits, context);
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
        var stats = new Dictionary<string, long>
        {
            ["layers"] = plan.Layers.Count, ["tensors"] = plan.Tensors.Count, ["activations-removed"] = plan.RemovedActivations.Count,
        };
        if (plan.ActivationLayers.Count > 0) stats["activation-matmuls"] = plan.ActivationLayers.Count;
        if (_options.MatMulNBits is not null) stats["matmul-nbits"] = nbits.Emitted.Count;
        return new PassResult(model, true, stats)
        {
            Artifacts = new IArtifact[] { new ActivationQuantizers { Scales = scales }, Parameters(floatNames, plan, parameters, nbits.Emitted) },
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
            if (FixedRange(source) is { } fixedRange) return parameters[v] = QuantParams.ForRange(fixedRange.Min, fixedRange.Max, _options.Activations, _options.SymmetricActivations);
            if (ranges is null || !ranges.TryGetValue(source.Name, out var range))
                throw new OptionsException($"no activation range for '{source.Name}': the ranges were calibrated on another model");
            return parameters[v] = QuantParams.ForRange(range.Min, range.Max, _options.Activations, _options.SymmetricActivations);
        }
        foreach (var t in plan.Tensors) ParamsOf(t);
        return parameters;
    }

    /// <summary>The quantization-parameters artifact, read off the rewritten graph: each layer's weight (and int32 bias) DequantizeLinear, each activation's parameters.</summary>
    private QuantizationParameters Parameters(IEnumerable<(Node Layer, string Weight, string? Bias)> layers, QuantPlan plan, Dictionary<Value, QuantParams> activations,
        IEnumerable<QuantizedTensor> nbits)
    {
        var tensors = nbits.ToList();
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
}
