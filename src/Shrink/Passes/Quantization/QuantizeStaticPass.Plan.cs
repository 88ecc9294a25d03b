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
}
