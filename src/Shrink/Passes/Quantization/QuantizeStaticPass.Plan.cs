using Shrink.Ir;
using Shrink.Ops;
using Shrink.Techniques;
using Shrink.Text;

namespace Shrink.Passes.Quantization;

// What quantize-static quantizes: the layers, the activation tensors and the parameters they share (a pure function of
// the model and the options).
public sealed partial class QuantizeStaticPass
{
    /// <summary>What the pass will do to a float model: the layers it quantizes and the values to calibrate.</summary>
    public sealed record QuantPlan(
        IReadOnlyList<Node> Layers,
        IReadOnlyList<Node> Others,
        IReadOnlyList<Node> RemovedActivations,
        IReadOnlyList<Value> Tensors,
        IReadOnlyDictionary<Value, Value> CalibrateAs,
        IReadOnlyDictionary<Value, Value> SameAs)
    {
        /// <summary>MatMuls of two activations (attention's Q·Kᵀ and attention·V): no weights, both inputs quantized.</summary>
        public IReadOnlyList<Node> ActivationLayers { get; init; } = Array.Empty<Node>();

        /// <summary>Every compute layer the plan quantizes: <see cref="Layers"/>, then <see cref="ActivationLayers"/>.</summary>
        public IReadOnlyList<Node> ComputeLayers => Layers.Concat(ActivationLayers).ToList();

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
                if (w.Const is { DataType: DataType.Float } t && !t.AllFinite())
                    return $"'{w.Name}' of '{node.DisplayName}' holds NaN or infinite weights; fix or retrain the model before quantizing";
        return null;
    }

    public override string? CheckPreconditions(Model model) =>
        CheckModel(model) ?? (Plan(model).ComputeLayers.Count == 0 ? "the model has no Conv, Gemm or MatMul with constant float weights to quantize" : null);

    /// <summary>Decides what gets quantized (a pure function of the model and the options).</summary>
    public QuantPlan Plan(Model model)
    {
        ShapeInference.Run(model); // element types of the activations
        var graph = model.Graph;
        var (layers, others, activationLayers) = (new List<Node>(), new List<Node>(), new List<Node>());
        var quantized = new HashSet<Value>(); // activation values that will carry Q/DQ
        var removed = new List<Node>();
        var calibrateAs = new Dictionary<Value, Value>();
        var sameAs = new Dictionary<Value, Value>();
        foreach (var node in graph.TopologicalOrder())
        {
            if (!node.IsDefaultDomain || _options.Exclude.Contains(node.Name) || !_options.OpTypes.Contains(node.OpType)) continue;
            if (IsLayer(node) && _options.BitsOf(node) > 0)
            {
                layers.Add(node);
                if (_options.Activations != DataType.Float) PlanLayerActivations(graph, node, quantized, removed, calibrateAs);
                continue;
            }
            if (_options.Activations == DataType.Float) continue; // weight-only
            if (IsActivationMatMul(node))
            {
                // Attention's Q·Kᵀ and attention·V: both inputs quantized, as ONNX Runtime's QDQ quantizer does unless MatMulConstBOnly.
                activationLayers.Add(node);
                PlanLayerActivations(graph, node, quantized, removed, calibrateAs);
                Quantize(quantized, node.Inputs[1]!);
                continue;
            }
            var inputs = node.Inputs.Where(IsFloatActivation).Select(v => RemovedInput(v!, removed)).ToList();
            if (inputs.Count == 0 || !inputs.Any(quantized.Contains)) continue;
            if (SameScale.Contains(node.OpType) && inputs.Count == 1 && node.Outputs[0] is { } o && o.ElementType == DataType.Float)
            {
                var source = inputs[0];
                others.Add(node);
                Quantize(quantized, o);
                sameAs[o] = sameAs.GetValueOrDefault(source) ?? source;
            }
            else if (Requantizing.Contains(node.OpType) && node.Outputs[0] is { } r && r.ElementType == DataType.Float)
            {
                others.Add(node);
                foreach (var i in inputs) Quantize(quantized, i);
                Quantize(quantized, r);
            }
        }
        // Outputs of removed activations are read as the layer's output.
        var tensors = quantized.Where(v => !removed.Any(a => a.Outputs[0] == v)).Distinct().ToList();
        return new QuantPlan(layers, others, removed, tensors, calibrateAs, sameAs) { ActivationLayers = activationLayers };
    }

    /// <summary>
    /// A layer's input and output: the input quantized; a Relu / Clip(0, …) right after removed when the activations are
    /// asymmetric (the layer's output takes its range, whose zero point clamps exactly as it did; ONNX Runtime's quantizer
    /// keeps it with symmetric activations); the output quantized unless it is a graph output of a Gemm or MatMul.
    /// </summary>
    private void PlanLayerActivations(Graph graph, Node node, HashSet<Value> quantized, List<Node> removed, Dictionary<Value, Value> calibrateAs)
    {
        Quantize(quantized, node.Inputs[0]!);
        var y = node.Outputs[0]!;
        var act = y.Uses.Count == 1 && !graph.Outputs.Contains(y) ? y.Uses[0].Node : null;
        var folds = act is not null && !_options.SymmetricActivations && act.IsDefaultDomain && !_options.Exclude.Contains(act.Name) && _options.OpTypes.Contains(act.OpType)
            && (act.OpType == "Relu" || act.OpType == "Clip" && ClipBounds.Of(act) is { Min: 0 });
        // A layer output kept in float (by its name or its folded activation's) keeps the activation, and both stay float.
        if (_options.FloatTensors.Contains(y.Name) || folds && _options.FloatTensors.Contains(act!.Outputs[0]!.Name)) return;
        if (folds)
        {
            removed.Add(act!);
            calibrateAs[y] = act!.Outputs[0]!;
        }
        // QLinearConv needs a quantized output; Gemm and MatMul may end in float (QGemm, MatMulIntegerToFloat): the logits stay exact.
        if (node.OpType == "Conv" || !graph.Outputs.Contains(y)) quantized.Add(y);
    }

    /// <summary>Marks <paramref name="v"/> for Q/DQ unless <see cref="QuantizationOptions.FloatTensors"/> keeps it in float.</summary>
    private void Quantize(HashSet<Value> quantized, Value v)
    {
        if (!_options.FloatTensors.Contains(v.Name)) quantized.Add(v);
    }

    /// <summary>A float activation: not a constant, nor computed from constants only.</summary>
    private static bool IsFloatActivation(Value? v) => v is not null && v.Const is null && Graph.ConstantOf(v) is null && v.ElementType == DataType.Float;

    /// <summary>A MatMul of two float activations (attention's Q·Kᵀ, attention·V), quantized unless <see cref="QuantizationOptions.MatMulConstBOnly"/>.</summary>
    private bool IsActivationMatMul(Node n) =>
        n.OpType == "MatMul" && !_options.MatMulConstBOnly && _options.BitsOf(n) > 0 && IsFloatActivation(n.Inputs[0]) && IsFloatActivation(n.Inputs.ElementAtOrDefault(1))
        && n.Outputs[0]!.ElementType == DataType.Float;

    /// <summary>
    /// Outputs whose range ONNX Runtime's quantizer fixes instead of calibrating: Softmax's, [0, 1] (its QDQSoftmax), so
    /// attention probabilities keep the same grid on every input.
    /// </summary>
    public static (double Min, double Max)? FixedRange(Value v) =>
        v.Producer is { OpType: "Softmax", IsDefaultDomain: true } ? (0, 1) : null;

    /// <summary>
    /// The compute layers of the model (Conv, Gemm, MatMul) that <paramref name="plan"/> leaves in float for a reason other
    /// than being named in <see cref="QuantizationOptions.Exclude"/>, each with that reason, in a note naming the options
    /// (null when there are none), so every compute layer is accounted for.
    /// </summary>
    public OptionText? FloatLayersNote(Model model, QuantPlan plan)
    {
        var quantized = plan.ComputeLayers.ToHashSet();
        var reasons = model.Graph.TopologicalOrder()
            .Where(n => n.IsDefaultDomain && Weighted.Contains(n.OpType) && !quantized.Contains(n) && !_options.Exclude.Contains(n.Name))
            .Select(n => (Node: n, Reason: FloatReason(n))).GroupBy(r => r.Reason.ToString()).ToList();
        if (reasons.Count == 0) return null;
        var count = reasons.Sum(g => g.Count());
        var parts = reasons.Select(g => OptionText.Of(
            $"{g.Count()} {g.First().Reason} ({Message.List(g.Take(3).Select(r => $"'{Message.Name(r.Node.DisplayName)}'"))}{(g.Count() > 3 ? ", …" : "")})"));
        var list = parts.ToArray<object?>();
        var joined = OptionText.Of(System.Runtime.CompilerServices.FormattableStringFactory.Create(string.Join("; ", list.Select((_, i) => $"{{{i}}}")), list));
        return OptionText.Of($"{count} of {count + quantized.Count} compute layers stay float: {joined}");
    }

    private OptionText FloatReason(Node n)
    {
        if (!_options.OpTypes.Contains(n.OpType)) return OptionText.Of($"{n.OpType} layers, an op type not in {OptionName.Of(nameof(QuantizeOptions.OpTypes))}");
        if (_options.BitsOf(n) == 0) return OptionText.Of($"given float in {OptionName.Of(nameof(QuantizeOptions.Layers))}");
        var activations = n.OpType == "MatMul" && IsFloatActivation(n.Inputs[0]) && IsFloatActivation(n.Inputs.ElementAtOrDefault(1));
        if (activations && _options.Activations == DataType.Float) return OptionText.Plain("MatMuls of two activations, which weight-only quantization leaves float");
        if (activations) return OptionText.Of($"MatMuls of two activations ({OptionName.Of(nameof(QuantizeOptions.MatMulConstBOnly))} on)");
        return OptionText.Plain("layers of a form the integer kernels do not take (a constant or integer input, Gemm with transA, alpha or beta, a weight of another rank)");
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
}
