using System.Globalization;

namespace Shrink.Architecture;

/// <summary>What a <see cref="LatencyBlock"/> times: one block of a stage, a stage's pooling, the head, one layer of an MLP, or the cost of a run itself.</summary>
public enum LatencyBlockKind { Block, Pool, Head, Dense, Overhead }

/// <summary>
/// One piece of a candidate network whose ONNX Runtime latency the <see cref="LatencyTable"/> measures alone: what determines
/// its cost is in <see cref="Key"/> (type, input shape, output width, kernel, stride, expansion, squeeze-excitation, activation),
/// so two candidates that share a block share its measurement. <see cref="ArchitectureSpace.Blocks"/> splits a configuration
/// into these pieces; their latencies, summed, predict the candidate's before it is built.
/// </summary>
public sealed record LatencyBlock
{
    public required LatencyBlockKind Kind { get; init; }

    /// <summary>The shape of one sample of the piece's input (C×H×W in a CNN, the features of an MLP layer).</summary>
    public required IReadOnlyList<int> Input { get; init; }

    /// <summary><see cref="LatencyBlockKind.Block"/>: the stage with this block's stride, one block, no pooling.</summary>
    public StageChoice? Stage { get; init; }

    /// <summary><see cref="LatencyBlockKind.Pool"/>: the pooling after the stage.</summary>
    public StagePool Pool { get; init; }

    /// <summary><see cref="LatencyBlockKind.Head"/>: the head's pooling and classifier.</summary>
    public HeadChoice? Head { get; init; }

    /// <summary><see cref="LatencyBlockKind.Head"/>: the classes; <see cref="LatencyBlockKind.Dense"/>: the layer's width.</summary>
    public int Outputs { get; init; }

    /// <summary><see cref="LatencyBlockKind.Dense"/>: the layer's activation (null: the classifier, no activation).</summary>
    public Activation? Activation { get; init; }

    /// <summary>The run's own cost (an element-wise op on one value per sample), taken off every piece but one of a prediction.</summary>
    public static LatencyBlock Overhead { get; } = new() { Kind = LatencyBlockKind.Overhead, Input = [1] };

    /// <summary>The table's key: every property that determines the piece's cost, e.g. <c>block inverted e4 16→32 k3 s2 relu6 se @16x14x14</c>.</summary>
    public string Key => Kind switch
    {
        LatencyBlockKind.Block => Invariant($"block {ArchitectureSpace.Name(Stage!.Block)}{(Stage.Block == BlockKind.Inverted ? $" e{Stage.Expansion}" : "")} {Input[0]}→{Stage.Channels} k{Stage.Kernel} s{Stage.Stride} {ArchitectureSpace.Name(Stage.Activation)}{(Stage.Se ? " se" : "")} @{Shape}"),
        LatencyBlockKind.Pool => $"pool {ArchitectureSpace.Name(Pool)} @{Shape}",
        LatencyBlockKind.Head => Invariant($"head {ArchitectureSpace.Name(Head!.Pooling)}{(Head.Width > 0 ? $" → {Head.Width} {ArchitectureSpace.Name(Head.Activation)}" : "")} → {Outputs} @{Shape}"),
        LatencyBlockKind.Dense => Invariant($"dense → {Outputs}{(Activation is { } a ? " " + ArchitectureSpace.Name(a) : "")} @{Shape}"),
        _ => "overhead",
    };

    /// <summary>The piece alone as a network: input <c>input</c> [N, …<see cref="Input"/>], its output the piece's.</summary>
    public Ir.Model Build(int seed = 0) => ArchitectureBuilder.Chain([this], seed);

    /// <summary>
    /// <paramref name="pieces"/> run in order as one network: input <c>input</c> [N, …the first piece's <see cref="Input"/>], each
    /// piece fed the one before's output (as <see cref="ArchitectureSpace.Blocks"/> lists them), output the last piece's.
    /// </summary>
    public static Ir.Model BuildChain(IReadOnlyList<LatencyBlock> pieces, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        if (pieces.Count == 0) throw new ArgumentException("give at least one piece", nameof(pieces));
        return ArchitectureBuilder.Chain(pieces, seed);
    }

    /// <summary>The key of <paramref name="pieces"/> timed as one chain: their <see cref="Key"/>s joined by <c> | </c>.</summary>
    public static string ChainKey(IReadOnlyList<LatencyBlock> pieces) => string.Join(" | ", pieces.Select(p => p.Key));

    private string Shape => string.Join("x", Input.Select(d => d.ToString(CultureInfo.InvariantCulture)));

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
