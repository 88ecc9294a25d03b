using Shrink.Ir;
using Shrink.Ops;
using Shrink.Techniques;
using Shrink.Text;

namespace Shrink.Passes.Merging;

/// <summary>
/// <c>merge-consecutive</c>: merges a linear layer into the linear step that alone reads its output, with nothing
/// nonlinear between them. Dense: (x·W₁ + b₁)·W₂ + b₂ = x·(W₁W₂) + (b₁W₂ + b₂) for Gemm→Gemm, MatMul→MatMul (with the
/// bias Adds torch exports beside them) and mixed pairs. Convolution then 1×1 convolution (stride 1, no padding):
/// W[o₂, i, k] = Σₒ₁ W₂[o₂, o₁]·W₁[o₁, i, k], b = W₂b₁ + b₂, a grouped first layer expanded to its dense
/// block-diagonal weight. A layer then a per-channel Mul or Add by a constant c: W′ = W·diag(c), b′ = b·c (Mul) or
/// b′ = b + c (Add). Pairs are merged only when the merged layer has no more parameters than the two
/// (<see cref="MergeConsecutiveOptions.Force"/> merges them anyway), repeatedly, so chains collapse. Needs no data, no
/// training; shapes are unchanged; outputs equal the original's within float32 rounding of the products (computed in
/// float64). Left alone: a layer whose output has other readers or is a graph output, weights that are not finite float
/// constants, a 1×1 convolution with strides, padding or groups, constants that are not per channel.
/// Counters: <c>merged</c>, <c>parameters-before</c>, <c>parameters-after</c>. Artifact: <see cref="LayerMerges"/>.
/// </summary>
public sealed class MergeConsecutivePass : Pass
{
    private readonly MergeConsecutiveOptions _options;

    public MergeConsecutivePass(MergeConsecutiveOptions options) => _options = options;

    public override string Id => "merge-consecutive";

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        var graph = model.Graph;
        var merges = new List<LayerMerge>();
        var larger = new List<string>();
        for (var changed = true; changed;)
        {
            changed = false;
            ShapeInference.Run(model);
            foreach (var node in graph.TopologicalOrder())
            {
                if (node.Graph != graph || LinearUnit.At(graph, node, out _) is not { } unit) continue;
                if (TryMerge(graph, unit, larger) is not { } merge) continue;
                merges.Add(merge);
                changed = true;
            }
        }
        graph.RemoveUnusedInitializers();
        foreach (var l in larger.Distinct())
            context.Note(OptionText.Of($"not merged: {l} ({OptionName.Of(nameof(MergeConsecutiveOptions.Force))} merges it)"));
        var stats = new Dictionary<string, long>
        {
            ["merged"] = merges.Count, ["parameters-before"] = merges.Sum(m => m.ParametersBefore), ["parameters-after"] = merges.Sum(m => m.ParametersAfter),
        };
        return new PassResult(model, merges.Count > 0, stats) { Artifacts = new IArtifact[] { new LayerMerges { Merges = merges } } };
    }

    /// <summary>Merges <paramref name="unit"/> with the one node that reads it, when a rule applies; null otherwise.</summary>
    private LayerMerge? TryMerge(Graph graph, LinearUnit unit, List<string> larger)
    {
        var y = unit.Output;
        if (graph.Outputs.Contains(y) || y.Uses is not [{ } use] || use.Node.Graph != graph) return null;
        var next = use.Node;
        if (next is { OpType: "Mul" or "Add", IsDefaultDomain: true } && Graph.ConstantOf(next.Inputs[1 - use.Index]) is { DataType: DataType.Float } c)
            return FoldConstant(graph, unit, next, c);
        if (use.Index != 0 || LinearUnit.At(graph, next, out _) is not { } second || second.Conv != unit.Conv) return null;
        if (PairReason(unit, second) is not null) return null;
        var (dims, weight, bias) = unit.Conv ? ConvProduct(unit, second) : DenseProduct(unit, second);
        var after = weight.LongLength + (bias?.LongLength ?? 0);
        var before = unit.Parameters + second.Parameters;
        if (after > before && !_options.Force)
        {
            larger.Add($"'{unit.Name}' then '{second.Name}': the merged layer would have {after:N0} parameters against {before:N0}");
            return null;
        }
        var form = unit.Conv ? LayerForm.Conv : unit.Head.OpType == "Gemm" || second.Head.OpType == "Gemm" ? LayerForm.Gemm : LayerForm.MatMul;
        var name = unit.Name + "_merged";
        var output = LinearUnitWriter.Write(graph, second.Head, form, name, unit.Input, dims, weight, bias, unit.Head.Attributes, 1, second.Output.Shape);
        LinearUnitWriter.Retire(graph, second.Output, output, unit.Nodes.Concat(second.Nodes));
        return new LayerMerge(MergeKind.Consecutive, new[] { unit.Name, second.Name }, output.Producer!.DisplayName, before, after);
    }

    /// <summary>Why two convolutions do not merge (the second is not a plain 1×1 one), or null.</summary>
    private static string? PairReason(LinearUnit first, LinearUnit second)
    {
        if (!first.Conv) return first.Channels == second.InputChannels ? null : "the features do not match";
        var w = second.WeightDims;
        if (w.Length != first.WeightDims.Length || w.Skip(2).Any(d => d != 1)) return "the second is not a 1×1 convolution";
        var node = second.Head;
        if (node.GetInt("group", 1) != 1 || w[1] != first.Channels) return "the second is grouped";
        if ((node.GetInts("strides") ?? Array.Empty<long>()).Any(s => s != 1) || (node.GetInts("pads") ?? Array.Empty<long>()).Any(p => p != 0))
            return "the second has strides or padding";
        if (node.GetString("auto_pad") is { } pad && pad is not ("NOTSET" or "VALID")) return "the second pads";
        return null;
    }

    /// <summary>x·W₁W₂ + (b₁W₂ + b₂) of two dense layers [K, N₁] and [N₁, N₂].</summary>
    private static (long[] Dims, double[] Weight, double[]? Bias) DenseProduct(LinearUnit a, LinearUnit b)
    {
        var (k, n1, n2) = (a.WeightDims[0], a.WeightDims[1], b.WeightDims[1]);
        var w = new double[k * n2];
        for (long i = 0; i < k; i++)
            for (long m = 0; m < n1; m++)
            {
                var x = a.Weight[i * n1 + m];
                if (x == 0) continue;
                for (long j = 0; j < n2; j++) w[i * n2 + j] += x * b.Weight[m * n2 + j];
            }
        double[]? bias = null;
        if (a.Bias is not null || b.Bias is not null)
        {
            bias = b.Bias is null ? new double[n2] : (double[])b.Bias.Clone();
            if (a.Bias is { } ab)
                for (long m = 0; m < n1; m++)
                    for (long j = 0; j < n2; j++) bias[j] += ab[m] * b.Weight[m * n2 + j];
        }
        return (new[] { k, n2 }, w, bias);
    }

    /// <summary>A convolution [O₁, I/g, k…] then a 1×1 one [O₂, O₁]: one convolution [O₂, I, k…] (groups expanded).</summary>
    private static (long[] Dims, double[] Weight, double[]? Bias) ConvProduct(LinearUnit a, LinearUnit b)
    {
        var dims = a.WeightDims;
        var (o1, perGroup, groups, o2) = (dims[0], dims[1], a.Groups, b.WeightDims[0]);
        var kernel = dims.Skip(2).Aggregate(1L, (x, d) => x * d);
        var inputs = perGroup * groups;
        var w = new double[o2 * inputs * kernel];
        for (long p = 0; p < o2; p++)
            for (long m = 0; m < o1; m++)
            {
                var s = b.Weight[p * o1 + m];
                if (s == 0) continue;
                var firstInput = m / (o1 / groups) * perGroup;
                for (long i = 0; i < perGroup; i++)
                    for (long t = 0; t < kernel; t++)
                        w[(p * inputs + firstInput + i) * kernel + t] += s * a.Weight[(m * perGroup + i) * kernel + t];
            }
        double[]? bias = null;
        if (a.Bias is not null || b.Bias is not null)
        {
            bias = b.Bias is null ? new double[o2] : (double[])b.Bias.Clone();
            if (a.Bias is { } ab)
                for (long p = 0; p < o2; p++)
                    for (long m = 0; m < o1; m++) bias[p] += b.Weight[p * o1 + m] * ab[m];
        }
        return (new[] { o2, inputs }.Concat(dims.Skip(2)).ToArray(), w, bias);
    }

    /// <summary>A layer then Mul or Add by a per-channel constant: folded into the weight and bias; null when the constant is not per channel.</summary>
    private static LayerMerge? FoldConstant(Graph graph, LinearUnit unit, Node op, Tensor c)
    {
        var rank = unit.Conv ? unit.WeightDims.Length : unit.Head.OpType == "Gemm" ? 2 : LinearUnit.OutputRank(unit.Output);
        var axisFromEnd = unit.Conv ? unit.WeightDims.Length - 1 : 1;
        if (LinearUnit.PerChannel(c, unit.Channels, axisFromEnd, rank) is not { } vector) return null;
        if (op.OpType == "Add" && unit is { Conv: false, BiasAdd: null } && unit.Head.OpType == "MatMul") return null;  // that Add is the MatMul's bias already
        var weight = (double[])unit.Weight.Clone();
        var bias = unit.Bias is null ? null : (double[])unit.Bias.Clone();
        if (op.OpType == "Mul")
        {
            var n = unit.Channels;
            for (long i = 0; i < weight.LongLength; i++)
                weight[i] *= vector[unit.Conv ? i / (weight.LongLength / n) : i % n];
            if (bias is not null) for (var j = 0; j < bias.Length; j++) bias[j] *= vector[j];
        }
        else
        {
            bias ??= new double[unit.Channels];
            for (var j = 0; j < bias.Length; j++) bias[j] += vector[j];
        }
        var form = unit.Conv ? LayerForm.Conv : unit.Head.OpType == "Gemm" ? LayerForm.Gemm : LayerForm.MatMul;
        var output = LinearUnitWriter.Write(graph, op, form, unit.Name + "_merged", unit.Input, unit.WeightDims, weight, bias, unit.Head.Attributes, unit.Groups,
            op.Outputs[0]!.Shape);
        var before = unit.Parameters + c.ElementCount;
        LinearUnitWriter.Retire(graph, op.Outputs[0]!, output, unit.Nodes.Append(op));
        return new LayerMerge(MergeKind.Consecutive, new[] { unit.Name, op.DisplayName }, output.Producer!.DisplayName, before, weight.LongLength + (bias?.LongLength ?? 0));
    }
}
