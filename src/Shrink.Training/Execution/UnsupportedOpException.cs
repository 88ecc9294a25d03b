using Shrink.Ir;

namespace Shrink.Training.Execution;

/// <summary>
/// One op type of a model that the training executor cannot run: how many nodes hold it and, when the
/// executor runs the op in other settings, what these nodes ask for that it does not do.
/// </summary>
/// <param name="OpType">The op type, prefixed with its domain outside the default one ("com.microsoft.FusedConv").</param>
/// <param name="Nodes">How many nodes of the model hold it.</param>
/// <param name="Reasons">Distinct settings the executor refuses ("mode 'cubic' with exclude_outside 1"); empty when it lacks the op.</param>
public sealed record UnsupportedOp(string OpType, int Nodes, IReadOnlyList<string> Reasons)
{
    /// <summary>The refused nodes grouped by op type: most nodes first, then by name.</summary>
    internal static IReadOnlyList<UnsupportedOp> Group(IEnumerable<(Node Node, string? Reason)> refused) =>
        refused.GroupBy(r => NameOf(r.Node))
            .Select(g => new UnsupportedOp(g.Key, g.Count(),
                g.Select(r => r.Reason).OfType<string>().Distinct().ToArray()))
            .OrderByDescending(u => u.Nodes).ThenBy(u => u.OpType, StringComparer.Ordinal)
            .ToArray();

    internal static string NameOf(Node node) => node.IsDefaultDomain ? node.OpType : $"{node.Domain}.{node.OpType}";
}

/// <summary>
/// The model holds ops, or settings of ops, that the training executor cannot run. The message names them
/// all in one line with their node counts; training, fine-tuning and distillation need the executor.
/// </summary>
public sealed class UnsupportedOpException : ShrinkUserException
{
    public UnsupportedOpException(IReadOnlyList<UnsupportedOp> unsupported) : base(Describe(unsupported))
    {
        Unsupported = unsupported;
    }

    /// <summary>Each op type refused, with its node count and reasons.</summary>
    public IReadOnlyList<UnsupportedOp> Unsupported { get; }

    /// <summary>The op types refused, most nodes first.</summary>
    public IReadOnlyList<string> Ops => Unsupported.Select(u => u.OpType).ToArray();

    private static string Describe(IReadOnlyList<UnsupportedOp> ops)
    {
        var nodes = ops.Sum(o => o.Nodes);
        var list = string.Join(", ", ops.Select((o, i) =>
        {
            var count = i > 0 ? $"{o.Nodes}" : o.Nodes == 1 ? "1 node" : $"{o.Nodes} nodes";
            return o.Reasons.Count == 0 ? $"{o.OpType} ({count})" : $"{o.OpType} ({count}: {string.Join(", ", o.Reasons)})";
        }));
        var them = nodes == 1 ? "it" : "them";
        return $"the executor cannot run {nodes} op{(nodes == 1 ? "" : "s")} of this model: {list}; training and fine-tuning need {them} "
            + $"— export the model without {them} (keep post-processing outside the graph), or compress it without fine-tuning";
    }
}

/// <summary>A kernel factory refusing a node's settings; the executor gathers these into one <see cref="UnsupportedOpException"/>.</summary>
internal sealed class UnsupportedNodeException : Exception
{
    public UnsupportedNodeException(string reason) : base(reason) { }
}
