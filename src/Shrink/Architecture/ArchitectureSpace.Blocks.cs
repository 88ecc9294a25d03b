using Shrink.Search;

namespace Shrink.Architecture;

public sealed partial class ArchitectureSpace
{
    /// <summary>
    /// The pieces <see cref="Build"/> would make of <paramref name="configuration"/>, in order, each with the input shape it
    /// would see (a k×k "same" convolution of stride s gives ⌈size/s⌉, a pooling ⌊size/2⌋): every block of every stage, each
    /// stage's pooling, and the head (an MLP: each layer and the classifier). Nothing is built; the
    /// <see cref="LatencyTable"/> predicts a candidate's latency from these before the candidate exists.
    /// </summary>
    public IReadOnlyList<LatencyBlock> Blocks(Configuration configuration, IReadOnlyList<int> sampleShape, int classes)
    {
        Check(sampleShape, classes);
        var c = Space.Check(configuration);
        var pieces = new List<LatencyBlock>();
        if (Spec.Kind == ArchitectureKind.Mlp)
        {
            IReadOnlyList<int> features = sampleShape.ToList();
            foreach (var width in MlpOf(c).Widths)
            {
                pieces.Add(new LatencyBlock { Kind = LatencyBlockKind.Dense, Input = features, Outputs = width, Activation = MlpOf(c).Activation });
                features = [width];
            }
            pieces.Add(new LatencyBlock { Kind = LatencyBlockKind.Dense, Input = features, Outputs = classes });
            return pieces;
        }
        var (channels, h, w) = (sampleShape[0], sampleShape[1], sampleShape[2]);
        foreach (var s in StagesOf(c))
        {
            for (var i = 0; i < s.Blocks; i++)
            {
                var stride = i == 0 ? s.Stride : 1;
                pieces.Add(new LatencyBlock { Kind = LatencyBlockKind.Block, Input = [channels, h, w], Stage = s with { Blocks = 1, Stride = stride, Pool = StagePool.None } });
                (channels, h, w) = (s.Channels, (h - 1) / stride + 1, (w - 1) / stride + 1);
            }
            if (s.Pool == StagePool.None) continue;
            pieces.Add(new LatencyBlock { Kind = LatencyBlockKind.Pool, Input = [channels, h, w], Pool = s.Pool });
            (h, w) = (h / 2, w / 2);
        }
        pieces.Add(new LatencyBlock { Kind = LatencyBlockKind.Head, Input = [channels, h, w], Head = HeadOf(c), Outputs = classes });
        return pieces;
    }
}
