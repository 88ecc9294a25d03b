using Shrink.Builder;
using Shrink.Ir;

namespace Shrink.Architecture;

/// <summary>
/// Builds the network of one architecture choice with <see cref="NetworkBuilder"/> (seeded PyTorch-style initialization).
/// Every convolution is followed by BatchNorm and is "same"-padded (k/2), so a stride-1 block keeps the size and a stride-s
/// one gives ⌈size/s⌉. Squeeze-and-excitation (Hu et al. 2018): global average pool, 1×1 conv to max(4, C/4), ReLU, 1×1
/// conv back to C, sigmoid, multiplied onto the channels.
/// </summary>
internal static class ArchitectureBuilder
{
    public static Model Cnn(IReadOnlyList<StageChoice> stages, HeadChoice head, IReadOnlyList<int> sample, int classes, int seed)
    {
        var b = new NetworkBuilder("candidate", seed);
        var x = b.Input("input", sample.Select(d => (long)d).ToArray());
        foreach (var s in stages)
        {
            for (var i = 0; i < s.Blocks; i++) x = Block(b, x, s, i == 0 ? s.Stride : 1);
            if (s.Pool == StagePool.Max) x = b.MaxPool(x, 2, 2);
            if (s.Pool == StagePool.Average) x = b.AveragePool(x, 2, 2);
        }
        b.Output(Head(b, x, head, classes), "output");
        return b.Build();
    }

    public static Model Mlp(MlpChoice mlp, IReadOnlyList<int> sample, int classes, int seed)
    {
        var b = new NetworkBuilder("candidate", seed);
        var x = b.Input("input", sample.Select(d => (long)d).ToArray());
        if (sample.Count != 1) x = b.Flatten(x);
        foreach (var width in mlp.Widths) x = Act(b, b.Linear(x, width), mlp.Activation);
        b.Output(b.Linear(x, classes), "output");
        return b.Build();
    }

    /// <summary>
    /// <paramref name="pieces"/> run one after another as one network (each piece's input is the one before's output), built
    /// as the candidate builds them: one piece alone, or a piece after its predecessor for <see cref="LatencyTable"/>'s
    /// in-context timing.
    /// </summary>
    public static Model Chain(IReadOnlyList<LatencyBlock> pieces, int seed)
    {
        var b = new NetworkBuilder("latency-block", seed);
        var x = b.Input("input", pieces[0].Input.Select(d => (long)d).ToArray());
        foreach (var piece in pieces) x = Piece(b, x, piece);
        b.Output(x, "output");
        return b.Build();
    }

    private static Value Piece(NetworkBuilder b, Value x, LatencyBlock piece) => piece.Kind switch
    {
        LatencyBlockKind.Block => Block(b, x, piece.Stage!, piece.Stage!.Stride),
        LatencyBlockKind.Pool => piece.Pool == StagePool.Max ? b.MaxPool(x, 2, 2) : b.AveragePool(x, 2, 2),
        LatencyBlockKind.Head => Head(b, x, piece.Head!, piece.Outputs),
        LatencyBlockKind.Dense => Dense(b, piece.Input.Count == 1 ? x : b.Flatten(x), piece.Outputs, piece.Activation),
        _ => b.Relu(x),
    };

    private static Value Head(NetworkBuilder b, Value x, HeadChoice head, int classes)
    {
        x = head.Pooling switch
        {
            HeadPooling.Average => b.Flatten(b.GlobalAveragePool(x)),
            HeadPooling.Max => b.Flatten(b.Op("GlobalMaxPool", [x])),
            _ => b.Flatten(x),
        };
        if (head.Width > 0) x = Act(b, b.Linear(x, head.Width), head.Activation);
        return b.Linear(x, classes);
    }

    private static Value Dense(NetworkBuilder b, Value x, int width, Activation? activation) =>
        activation is { } a ? Act(b, b.Linear(x, width), a) : b.Linear(x, width);

    private static Value Block(NetworkBuilder b, Value x, StageChoice s, int stride)
    {
        var (k, pad, inWidth) = (s.Kernel, s.Kernel / 2, Channels(x));
        switch (s.Block)
        {
            case BlockKind.Conv:
                return Se(b, ConvBn(b, x, s.Channels, k, stride, s.Activation), s.Se);
            case BlockKind.Depthwise:
                var d = Se(b, ConvBn(b, x, inWidth, k, stride, s.Activation, group: inWidth), s.Se);
                return ConvBn(b, d, s.Channels, 1, 1, s.Activation);
            case BlockKind.Inverted:
                var hidden = inWidth * s.Expansion;
                var e = s.Expansion == 1 ? x : ConvBn(b, x, hidden, 1, 1, s.Activation);
                e = Se(b, ConvBn(b, e, hidden, k, stride, s.Activation, group: hidden), s.Se);
                var projected = b.BatchNorm(b.Conv(e, s.Channels, 1, bias: false));
                return stride == 1 && inWidth == s.Channels ? b.Add(projected, x) : projected;
            default:
                var y = ConvBn(b, x, s.Channels, k, stride, s.Activation);
                y = Se(b, b.BatchNorm(b.Conv(y, s.Channels, k, 1, pad, bias: false)), s.Se);
                var shortcut = stride != 1 || inWidth != s.Channels ? b.BatchNorm(b.Conv(x, s.Channels, 1, stride, bias: false)) : x;
                return Act(b, b.Add(y, shortcut), s.Activation);
        }
    }

    private static Value ConvBn(NetworkBuilder b, Value x, long channels, int kernel, int stride, Activation activation, long group = 1) =>
        Act(b, b.BatchNorm(b.Conv(x, channels, kernel, stride, kernel / 2, group, bias: false)), activation);

    private static Value Se(NetworkBuilder b, Value x, bool on)
    {
        if (!on) return x;
        var c = Channels(x);
        var squeezed = b.Relu(b.Conv(b.GlobalAveragePool(x), Math.Max(4, c / 4), 1));
        var gate = b.Sigmoid(b.Conv(squeezed, c, 1));
        return b.Op("Mul", [x, gate]);
    }

    public static Value Act(NetworkBuilder b, Value x, Activation activation) => activation switch
    {
        Activation.Relu => b.Relu(x),
        Activation.Relu6 => b.Clip(x, 0, 6),
        Activation.Hardswish => b.Op("HardSwish", [x]),
        Activation.Gelu => b.Gelu(x),
        Activation.Sigmoid => b.Sigmoid(x),
        _ => b.Tanh(x),
    };

    private static long Channels(Value x) => x.Shape![1].Value!.Value;
}
