using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Pruning;

/// <summary>
/// Gives every per-channel constant of a normalization node (BatchNormalization's γ, β, running mean and variance:
/// <see cref="OpSchema.ChannelInputs"/>) a tensor of its own where an exporter shared one. torch.onnx.export merges
/// initializers of equal value into one and reads it through Identity: in torchvision's resnet18 the BatchNorm biases
/// of a first block's second conv and of its downsample get the same gradients (both feed one Add) and stay equal, so
/// the exported graph holds <c>Identity(layer2.0.bn2.bias) → layer2.0.downsample.1.bias</c>, and the residual
/// stream's channels could not be cut apart from the one constant. A copy changes nothing the model computes.
/// Convolution and Gemm weights shared this way are left shared (<see cref="ChannelFlow"/> reports them).
/// </summary>
public static class ChannelConstants
{
    /// <summary>
    /// Edits <paramref name="graph"/>: each such input read through an Identity of a constant, or a constant read by
    /// other nodes too, becomes a copy of that constant; Identity nodes and initializers left unread are removed.
    /// Returns the number of inputs given a copy.
    /// </summary>
    public static int Unshare(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        // Identity first: once its Identity readers are gone, a constant that only they shared has one reader left.
        var copied = Copy(graph, v => v.Producer is { OpType: "Identity", IsDefaultDomain: true } p ? ConstantOf(graph, p.Inputs.ElementAtOrDefault(0)) : null);
        copied += Copy(graph, v => v.Uses.Count > 1 ? ConstantOf(graph, v) : null);
        if (copied > 0) graph.RemoveUnusedInitializers();
        return copied;
    }

    /// <summary>The per-channel inputs for which <paramref name="shared"/> gives a constant each get a copy of it.</summary>
    private static int Copy(Graph graph, Func<Value, Tensor?> shared)
    {
        var copied = 0;
        foreach (var node in graph.Nodes.ToList())
        {
            if (!node.IsDefaultDomain || OpRegistry.Find(node.Domain, node.OpType) is not { ChannelInputs.Count: > 0 } schema) continue;
            foreach (var i in schema.ChannelInputs)
            {
                if (node.Inputs.ElementAtOrDefault(i) is not { } v || graph.Outputs.Contains(v) || shared(v) is not { } tensor) continue;
                node.SetInput(i, null);
                if (v.Producer is { } identity && v.Uses.Count == 0) graph.RemoveNode(identity);
                node.SetInput(i, graph.AddInitializer(tensor.Clone(v.Name)));
                copied++;
            }
        }
        return copied;
    }

    /// <summary>The constant of an initializer that is not also a graph input (a graph input may be overridden when run).</summary>
    private static Tensor? ConstantOf(Graph graph, Value? v) => v is { Const: { } t } && !graph.Inputs.Contains(v) ? t : null;
}
