using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Quantization;

/// <summary>
/// <c>fold-batchnorm</c>: folds an inference BatchNormalization into the Conv or Gemm that feeds it,
/// y = γ·(Wx + b − μ)/√(σ² + ε) + β = W′x + b′ with W′ = W·s, b′ = (b − μ)·s + β, s = γ/√(σ² + ε) per
/// output channel, and removes the BatchNormalization. Run before quantizing, so the scales are those
/// of the folded weights (what ONNX Runtime's quantizer does too). Needs no data, no training; shapes
/// are unchanged; outputs equal the original's within float rounding. The pair is left alone when the
/// layer's output has other readers, its weights are not float constants or are shared, or the
/// BatchNormalization is in training mode (more than one output used). Counters: <c>folded</c>, <c>skipped</c>.
/// </summary>
public sealed class FoldBatchNormPass : Pass
{
    public override string Id => "fold-batchnorm";

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        var graph = model.Graph;
        int folded = 0, skipped = 0;
        foreach (var bn in graph.TopologicalOrder().Where(n => n.OpType == "BatchNormalization" && n.IsDefaultDomain).ToList())
        {
            if (Reason(graph, bn) is { } reason)
            {
                skipped++;
                context.Notes.Add($"not folded: '{bn.DisplayName}': {reason}");
                continue;
            }
            Fold(graph, bn.Inputs[0]!.Producer!, bn);
            folded++;
        }
        if (folded > 0) graph.RemoveUnusedInitializers();
        return new PassResult(model, folded > 0, new Dictionary<string, long> { ["folded"] = folded, ["skipped"] = skipped });
    }

    private static string? Reason(Graph graph, Node bn)
    {
        var x = bn.Inputs[0];
        if (x?.Producer is not { } layer || !layer.IsDefaultDomain || layer.OpType is not ("Conv" or "Gemm")) return "no Conv or Gemm right before it";
        if (bn.Outputs.Skip(1).Any(o => o is { Uses.Count: > 0 } || o is not null && graph.Outputs.Contains(o))) return "it is in training mode (statistics outputs are used)";
        if (x.Uses.Count != 1 || graph.Outputs.Contains(x)) return $"the output of '{layer.DisplayName}' is also read elsewhere";
        if (layer.OpType == "Gemm" && (layer.GetInt("transA", 0) != 0 || layer.GetFloat("alpha", 1) != 1 || layer.GetFloat("beta", 1) != 1))
            return $"'{layer.DisplayName}' uses transA, alpha or beta";
        var w = layer.Inputs.ElementAtOrDefault(1);
        if (w?.Const is not { DataType: DataType.Float } wt || w.Uses.Count > 1) return $"the weights of '{layer.DisplayName}' are not float constants of its own";
        var channels = wt.Dims[OpRoles.Layer(layer)!.OutputAxis];
        if (layer.Inputs.ElementAtOrDefault(2) is { Name.Length: > 0 } b && (b.Const is not { DataType: DataType.Float, Dims.Length: 1 } bt || bt.Dims[0] != channels || b.Uses.Count > 1))
            return $"the bias of '{layer.DisplayName}' is not a float vector of its own with one entry per channel";
        for (var i = 1; i <= 4; i++)
            if (Graph.ConstantOf(bn.Inputs.ElementAtOrDefault(i)) is not { DataType: DataType.Float } t || t.ElementCount != channels)
                return $"input {i} of the BatchNormalization is not a float constant with one entry per channel";
        return null;
    }

    private static void Fold(Graph graph, Node layer, Node bn)
    {
        var gamma = Graph.ConstantOf(bn.Inputs[1])!.ToDoubles();
        var beta = Graph.ConstantOf(bn.Inputs[2])!.ToDoubles();
        var mean = Graph.ConstantOf(bn.Inputs[3])!.ToDoubles();
        var variance = Graph.ConstantOf(bn.Inputs[4])!.ToDoubles();
        var epsilon = bn.GetFloat("epsilon", 1e-5f);
        var scale = gamma.Select((g, c) => g / Math.Sqrt(variance[c] + epsilon)).ToArray();

        var w = layer.Inputs[1]!;
        var wt = w.Const!;
        var axis = OpRoles.Layer(layer)!.OutputAxis;
        var values = wt.Floats.ToArray();
        long inner = 1;
        for (var i = axis + 1; i < wt.Dims.Length; i++) inner *= wt.Dims[i];
        var channels = wt.Dims[axis];
        for (long i = 0; i < values.LongLength; i++) values[i] = (float)(values[i] * scale[i / inner % channels]);
        w.Const = Tensor.FromFloats(wt.Name, wt.Dims, values);

        var oldBias = layer.Inputs.ElementAtOrDefault(2) is { Name.Length: > 0 } b ? b.Const!.ToDoubles() : new double[channels];
        var bias = oldBias.Select((v, c) => (float)((v - mean[c]) * scale[c] + beta[c])).ToArray();
        var biasTensor = Tensor.FromFloats(layer.DisplayName + ".folded_bias", new[] { channels }, bias);
        if (layer.Inputs.ElementAtOrDefault(2) is { Name.Length: > 0 } existing) existing.Const = biasTensor.Clone(existing.Name);
        else
        {
            while (layer.Inputs.Count < 3) layer.AddInput(null);
            layer.SetInput(2, graph.AddInitializer(biasTensor));
        }
        graph.ReplaceAllUsesWith(bn.Outputs[0]!, layer.Outputs[0]!);
        graph.RemoveNode(bn, force: true);
    }
}
