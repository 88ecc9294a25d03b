using Shrink.Ir;

namespace Shrink.Ops;

/// <summary>
/// Raises a model's default-domain opset where the meaning of its nodes does not change, rewriting
/// the one change that is common in vision and transformer graphs: the reductions (ReduceMean,
/// ReduceMax, …) take their axes as an input from opset 18. Nodes whose meaning changed otherwise
/// (RoiAlign's default sampling in 16, GroupNormalization's per-channel scale in 21) and graphs with
/// subgraphs are refused with the reason, never rewritten half-way. Used where a pass needs a newer
/// operator version (int4 in DequantizeLinear arrived in opset 21).
/// </summary>
public static class OpsetUpgrade
{
    /// <summary>Reductions whose axes attribute became an input in opset 18 (ReduceSum did so in 13).</summary>
    private static readonly HashSet<string> AxesToInput18 = new()
    {
        "ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    };

    /// <summary>The IR version that carries the types of each opset this helper targets (int4 needs IR 10).</summary>
    private static long IrVersionFor(long opset) => opset >= 21 ? 10 : opset >= 19 ? 9 : 8;

    /// <summary>Why <paramref name="model"/> cannot be raised to <paramref name="target"/>, or null when it can.</summary>
    public static string? Check(Model model, long target)
    {
        var from = model.DefaultOpset;
        if (from >= target) return null;
        if (from < 13) return $"the model uses opset {from}; re-export it with opset 13 or later";
        if (model.Graph.Nodes.FirstOrDefault(n => n.Subgraphs.Any()) is { } sub)
            return $"'{sub.DisplayName}' ({sub.OpType}) holds subgraphs, which are not upgraded";
        foreach (var n in model.Graph.Nodes.Where(n => n.IsDefaultDomain))
        {
            if (n.OpType == "RoiAlign" && from < 16) return $"RoiAlign '{n.DisplayName}' changed its default coordinate mode in opset 16";
            if (n.OpType == "GroupNormalization") return $"GroupNormalization '{n.DisplayName}' changed the shape of its scale and bias in opset 21";
        }
        return null;
    }

    /// <summary>Raises the default-domain opset to <paramref name="target"/>; throws when <see cref="Check"/> refuses.</summary>
    public static void To(Model model, long target)
    {
        if (Check(model, target) is { } reason) throw new OptionsException($"cannot raise the opset to {target}: {reason}");
        var from = model.DefaultOpset;
        if (from >= target) return;
        var graph = model.Graph;
        if (from < 18 && target >= 18)
            foreach (var n in graph.Nodes.Where(n => n.IsDefaultDomain && AxesToInput18.Contains(n.OpType)).ToList())
            {
                if (n.GetInts("axes") is not { } axes) continue;
                n.Attributes.RemoveAll(a => a.Name == "axes");
                n.AddInput(graph.AddInitializer(new Tensor(n.DisplayName + "_axes", DataType.Int64, new[] { (long)axes.Length },
                    axes.SelectMany(BitConverter.GetBytes).ToArray())));
            }
        model.SetOpset("", target);
        model.IrVersion = Math.Max(model.IrVersion, IrVersionFor(target));
    }
}
