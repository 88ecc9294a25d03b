using Shrink.Container;
using Shrink.Onnx;
using Shrink.Passes.Sharing;
using Shrink.Stats;

namespace Shrink.Training.Optimization;

/// <summary>
/// The size the size goal minimizes (<see cref="TrialMetrics.Bytes"/>), measured alike for the original and every trial:
/// for a clustered model (weight sharing, usually on a pruned one) the bytes of its Deep Compression container
/// (<see cref="ShrinkContainer.Pack"/>: Brotli-compressed graph and unclustered tensors, relative sparse indices and cluster
/// indices Huffman-coded, codebooks, CRCs; what <c>shrink pack</c> writes and the README's Deep Compression ratios divide
/// the float ONNX file by); for any other model its parameter bytes with each sparse float tensor stored as Deep
/// Compression stores a pruned layer where that is smaller (<see cref="ModelStats.SparseBytes"/>: relative indices and
/// float values; dense tensors at their stored width, low-bit weights at their packed width). So unstructured pruning
/// alone shrinks the figure as it shrinks the paper's "pruned" column, and a single technique is compared fairly.
/// </summary>
internal static class TrialSize
{
    /// <summary>The size figure of the model at <paramref name="path"/>, and its container's bytes when it is clustered (else null).</summary>
    public static (long Bytes, long? Container) Of(string path)
    {
        var model = OnnxReader.Read(path);
        if (ClusterPass.ReadBits(model).Count == 0) return (ModelStats.SparseBytes(model), null);
        var container = ShrinkContainer.Pack(model).Bytes.LongLength;
        return (container, container);
    }
}
