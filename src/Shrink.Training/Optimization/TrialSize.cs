using Shrink.Container;
using Shrink.Onnx;
using Shrink.Passes.Sharing;

namespace Shrink.Training.Optimization;

/// <summary>
/// The size the size goal minimizes (<see cref="TrialMetrics.Bytes"/>): for a clustered model (weight sharing, usually on
/// a pruned one) the bytes of its Deep Compression container (<see cref="ShrinkContainer.Pack"/>: Brotli-compressed graph and
/// unclustered tensors, relative sparse indices and cluster indices Huffman-coded, codebooks, CRCs; what <c>shrink pack</c>
/// writes and the README's Deep Compression ratios divide the float ONNX file by); for any other model its packed parameter
/// bytes (<see cref="Stats.ModelStats.PackedBytes"/>: parameters at their stored width, low-bit weights at their packed width).
/// </summary>
internal static class TrialSize
{
    /// <summary>The container's bytes when the model at <paramref name="path"/> is clustered, else null.</summary>
    public static long? ContainerBytes(string path)
    {
        var model = OnnxReader.Read(path);
        return ClusterPass.ReadBits(model).Count == 0 ? null : ShrinkContainer.Pack(model).Bytes.LongLength;
    }
}
