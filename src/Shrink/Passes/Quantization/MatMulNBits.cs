using System.Runtime.InteropServices;
using Shrink.Ir;
using Shrink.Ops;

namespace Shrink.Passes.Quantization;

/// <summary>
/// The block-wise 4-bit weights of one MatMulNBits node, as ONNX Runtime's <c>com.microsoft.MatMulNBits</c> reads them:
/// <see cref="B"/> uint8 [N, blocks, block size / 2] (the weight transposed to [N, K], each row cut into blocks of
/// <see cref="BlockSize"/> along K, two levels per byte, the first in the low nibble; the last block padded with the
/// zero point, which dequantizes to 0), <see cref="Scales"/> float [N · blocks] (row-major over [N, blocks]) and, when
/// asymmetric, <see cref="ZeroPoints"/> uint8 [N · ⌈blocks / 2⌉] (two per byte, low nibble first, each row padded to a
/// byte); without them every zero point is 8. A weight is (level − zero point) · scale. GatherBlockQuantized's data
/// [V, E / 2] is laid out the same but for its rows, which are not padded (<paramref name="PaddedRows"/> false).
/// </summary>
public sealed record NBitsWeights(int N, int K, int BlockSize, byte[] B, float[] Scales, byte[]? ZeroPoints, bool PaddedRows = true)
{
    public int Blocks => (K + BlockSize - 1) / BlockSize;

    /// <summary>Bytes per block: block size / 2.</summary>
    public int BlobSize => BlockSize / 2;

    /// <summary>Levels per row of <see cref="B"/>: whole blocks (MatMulNBits), or K (GatherBlockQuantized, K even).</summary>
    public long RowLength => PaddedRows ? (long)Blocks * BlockSize : K;

    /// <summary>The level (0 to 15) of weight [n, k].</summary>
    public int Level(int n, int k)
    {
        var index = n * RowLength + k;
        return (B[index / 2] >> (int)(4 * (index % 2))) & 0xF;
    }

    /// <summary>The zero point of block [n, block]: 8 without zero points.</summary>
    public int ZeroPoint(int n, int block)
    {
        if (ZeroPoints is null) return 8;
        var index = (long)n * ((Blocks + 1) / 2) * 2 + block;
        return (ZeroPoints[index / 2] >> (int)(4 * (index % 2))) & 0xF;
    }

    /// <summary>The weights whose level is not their block's zero point (the non-zero weights of the size statistics).</summary>
    public long NonZero
    {
        get
        {
            long nonZero = 0;
            for (var r = 0; r < N; r++)
                for (var c = 0; c < K; c++) if (Level(r, c) != ZeroPoint(r, c / BlockSize)) nonZero++;
            return nonZero;
        }
    }

    /// <summary>The weight the kernel computes with, [n, k] = fl32((level − zero point) · scale).</summary>
    public float Dequantized(int n, int k) => (Level(n, k) - ZeroPoint(n, k / BlockSize)) * Scales[n * Blocks + k / BlockSize];
}

/// <summary>
/// Weight-only int4 for ONNX Runtime's CPU kernel <c>com.microsoft.MatMulNBits</c> (Y = A · dequantize(B)ᵀ + bias, B
/// block-wise along K; its kernels read the packed levels, where a DequantizeLinear before a MatMul is computed on every run
/// and followed by a float MatMul). Round to nearest, as ONNX Runtime's <c>matmul_nbits_quantizer</c> (RTN) does:
/// <list type="bullet">
/// <item>symmetric (no zero points, ONNX Runtime's default 8): the block-wise int4 of <see cref="WeightScheme"/> (levels ±7,
/// scale = fl32(max|w| / 7)), so the weights equal those of the DequantizeLinear form bit for bit, stored as level + 8;</item>
/// <item>asymmetric (a zero point per block): lo = min(0, min w), hi = max(0, max w) in float64, scale = fl32((hi − lo) / 15)
/// (1 when 0), zero point = clamp(round(−lo / scale), 0, 15), level = clamp(round(fl32(w / scale)) + zero point, 0, 15),
/// rounding half to even.</item>
/// </list>
/// MatMul with a constant B [K, N] and Gemm (α = β = 1, no transA; B [K, N], or [N, K] with transB) are emitted; Gemm's C
/// of N values becomes the bias input (ONNX Runtime's CPU kernel adds it), another C an Add after.
/// </summary>
public static class MatMulNBits
{
    public const string Domain = "com.microsoft";

    /// <summary>ONNX Runtime's block sizes: a power of two, at least 16.</summary>
    public static bool ValidBlockSize(int blockSize) => blockSize >= 16 && (blockSize & (blockSize - 1)) == 0;

    /// <summary>Why <paramref name="layer"/> cannot become MatMulNBits with <paramref name="blockSize"/>, or null when it can.</summary>
    public static string? WhyNot(Node layer, int blockSize)
    {
        if (!ValidBlockSize(blockSize)) return $"block size {blockSize} is not a power of two of 16 or more, which MatMulNBits needs";
        if (layer.OpType is not ("MatMul" or "Gemm") || !layer.IsDefaultDomain) return $"{layer.OpType} is not a MatMul or Gemm";
        if (Graph.ConstantOf(layer.Inputs.ElementAtOrDefault(1)) is not { DataType: DataType.Float } w) return "its weight is not a constant float tensor";
        if (w.Dims.Length != 2) return $"its weight has rank {w.Dims.Length} (a batched MatMul); MatMulNBits takes a 2-D weight";
        if (layer.Inputs[0]?.Shape is { Rank: 0 }) return "its input is a scalar";
        if (layer.OpType == "Gemm" && (layer.GetInt("transA", 0) != 0 || layer.GetFloat("alpha", 1) != 1 || layer.GetFloat("beta", 1) != 1))
            return "a Gemm with transA, alpha or beta is not a plain product";
        var k = layer.OpType == "Gemm" && layer.GetInt("transB", 0) != 0 ? w.Dims[1] : w.Dims[0];
        if (k < 2 || w.ElementCount > int.MaxValue / 2) return $"its reduction axis K = {k} does not fit MatMulNBits";
        return null;
    }

    /// <summary>
    /// The weight of a MatMul/Gemm as [N, K] row-major (the layout MatMulNBits quantizes), with N and K.
    /// </summary>
    public static (float[] Rows, int N, int K) Transposed(Node layer)
    {
        var w = Graph.ConstantOf(layer.Inputs[1])!;
        using var weight = w.ReadFloats(); // an external weight is read into a reused buffer, not loaded
        var values = weight.Values;
        if (layer.OpType == "Gemm" && layer.GetInt("transB", 0) != 0) return (values.ToArray(), (int)w.Dims[0], (int)w.Dims[1]);
        int k = (int)w.Dims[0], n = (int)w.Dims[1];
        var rows = new float[values.Length];
        for (var i = 0; i < k; i++)
            for (var j = 0; j < n; j++) rows[(long)j * k + i] = values[i * n + j];
        return (rows, n, k);
    }

    /// <summary>Quantizes <paramref name="rows"/> ([N, K] row-major) block-wise along K and packs it as MatMulNBits reads it.</summary>
    public static NBitsWeights Quantize(float[] rows, int n, int k, int blockSize, bool asymmetric)
    {
        if (!ValidBlockSize(blockSize)) throw new ArgumentOutOfRangeException(nameof(blockSize), $"block size {blockSize} is not a power of two ≥ 16");
        if (rows.LongLength != (long)n * k) throw new ArgumentException($"{rows.LongLength} weights are not {n}×{k}", nameof(rows));
        var blocks = (k + blockSize - 1) / blockSize;
        var (levels, scales, zeros) = asymmetric ? Asymmetric(rows, n, k, blockSize) : Symmetric(rows, n, k, blockSize);
        var b = new byte[(long)n * blocks * blockSize / 2];
        for (var r = 0; r < n; r++)
            for (var c = 0; c < blocks * blockSize; c++)
            {
                var level = c < k ? levels[(long)r * k + c] : zeros?[r * blocks + c / blockSize] ?? 8; // padding dequantizes to 0
                var index = ((long)r * blocks * blockSize) + c;
                b[index / 2] |= (byte)(level << (int)(4 * (index % 2)));
            }
        return new NBitsWeights(n, k, blockSize, b, scales, zeros is null ? null : PackZeroPoints(zeros, n, blocks));
    }

    /// <summary>The block-wise int4 of <see cref="WeightScheme"/> (levels ±7) along K, as levels + 8.</summary>
    private static (byte[] Levels, float[] Scales, byte[]? Zeros) Symmetric(float[] rows, int n, int k, int blockSize)
    {
        var scheme = new WeightScheme { Bits = 4, Granularity = WeightGranularity.BlockWise, Axis = 1, BlockSize = blockSize };
        var (levels, scales) = WeightQuantizer.Quantize(rows, new long[] { n, k }, scheme);
        return (levels.Select(l => (byte)(l + 8)).ToArray(), scales, null);
    }

    /// <summary>Min/max levels 0 to 15 with a zero point per block (see the class summary).</summary>
    private static (byte[] Levels, float[] Scales, byte[]? Zeros) Asymmetric(float[] rows, int n, int k, int blockSize)
    {
        var blocks = (k + blockSize - 1) / blockSize;
        var levels = new byte[rows.LongLength];
        var scales = new float[n * blocks];
        var zeros = new byte[n * blocks];
        for (var r = 0; r < n; r++)
            for (var g = 0; g < blocks; g++)
            {
                long start = (long)r * k + g * blockSize, end = (long)r * k + Math.Min(k, (g + 1) * blockSize);
                double lo = 0, hi = 0;
                for (var i = start; i < end; i++) (lo, hi) = (Math.Min(lo, rows[i]), Math.Max(hi, rows[i]));
                var s = (hi - lo) / 15;
                var scale = s > 0 ? (float)s : 1f;
                var zero = (int)Math.Clamp(Math.Round(-lo / scale), 0, 15);
                (scales[r * blocks + g], zeros[r * blocks + g]) = (scale, (byte)zero);
                for (var i = start; i < end; i++) levels[i] = (byte)Math.Clamp(Math.Round(rows[i] / scale) + zero, 0, 15);
            }
        return (levels, scales, zeros);
    }

    /// <summary>Whether ONNX Runtime 1.31's CPU MatMulNBits takes the bias input (input 5); else an Add follows it.</summary>
    public const bool BiasInput = true;

    /// <summary>
    /// Replaces <paramref name="layer"/> (for which <see cref="WhyNot"/> is null) by a MatMulNBits node with
    /// <paramref name="options"/>, its bias (Gemm's C, or the constant of an Add that alone reads a MatMul's output) as the
    /// node's bias input; raises the model's com.microsoft opset to 1 where it imports none. Returns the weight's parameters.
    /// </summary>
    public static QuantizedTensor Emit(Model model, Node layer, MatMulNBitsOptions options)
    {
        var graph = model.Graph;
        var weight = layer.Inputs[1]!.Name;
        var (rows, n, k) = Transposed(layer);
        var q = Quantize(rows, n, k, options.BlockSize, options.Asymmetric);
        var node = new Node("MatMulNBits", Domain, graph.UniqueName(layer.DisplayName + "_Q4"));
        node.AddInput(layer.Inputs[0]);
        node.AddInput(graph.AddInitializer(new Tensor(weight + "_Q4", DataType.UInt8, new long[] { n, q.Blocks, q.BlobSize }, q.B)));
        node.AddInput(graph.AddInitializer(Tensor.FromFloats(weight + "_scales", new long[] { (long)n * q.Blocks }, q.Scales)));
        var zeros = q.ZeroPoints is null ? null : graph.AddInitializer(new Tensor(weight + "_zero_points", DataType.UInt8, new long[] { q.ZeroPoints.Length }, q.ZeroPoints));
        var (bias, add, replaced) = BiasOf(layer, n);
        if (zeros is not null || bias is not null) node.AddInput(zeros);
        if (bias is not null)
        {
            node.AddInput(null); // g_idx
            node.AddInput(graph.AddInitializer(Tensor.FromFloats(bias.Name + "_bias", new long[] { n }, bias.Floats.ToArray())));
        }
        node.Attributes.AddRange(new[] { Ir.Attribute.Int("K", k), Ir.Attribute.Int("N", n), Ir.Attribute.Int("bits", 4), Ir.Attribute.Int("block_size", options.BlockSize) });
        if (options.AccuracyLevel > 0) node.Attributes.Add(Ir.Attribute.Int("accuracy_level", options.AccuracyLevel));
        var output = replaced.Outputs[0]!;
        var y = node.AddOutput(new Value(graph.UniqueName(output.Name + "_nbits"), DataType.Float, add is null ? output.Shape : layer.Outputs[0]!.Shape))!;
        var nodes = new List<Node> { node };
        if (add is not null)
        {
            var sum = new Node("Add", "", graph.UniqueName(layer.DisplayName + "_bias"));
            sum.AddInput(y);
            sum.AddInput(add);
            y = sum.AddOutput(new Value(graph.UniqueName(output.Name + "_biased"), DataType.Float, output.Shape))!;
            nodes.Add(sum);
        }
        if (replaced != layer) graph.ReplaceNode(replaced, Array.Empty<Node>(), new[] { layer.Outputs[0]! });
        graph.ReplaceNode(layer, nodes, new[] { y });
        if (model.OpsetVersion(Domain) is null) model.SetOpset(Domain, 1);
        var scaleShape = new long[] { n, q.Blocks };
        var zeroPoints = Enumerable.Range(0, n * q.Blocks).Select(i => q.ZeroPoint(i / q.Blocks, i % q.Blocks)).ToArray();
        return new QuantizedTensor(weight, QuantizedRole.Weight, DataType.UInt4, 4, 1, options.BlockSize, scaleShape, q.Scales, zeroPoints);
    }

    /// <summary>
    /// The bias the MatMulNBits node takes (N values), the C an Add after it adds instead (Gemm's C of another shape), and
    /// the node whose output the replacement writes: the layer, or the Add folded into the bias.
    /// </summary>
    private static (Tensor? Bias, Value? Add, Node Replaced) BiasOf(Node layer, int n)
    {
        if (layer.OpType == "Gemm")
        {
            if (layer.Inputs.ElementAtOrDefault(2) is not { } c) return (null, null, layer);
            return BiasInput && Graph.ConstantOf(c) is { DataType: DataType.Float } t && t.ElementCount == n && t.Dims.Length >= 1 && t.Dims[^1] == n && t.Dims.Length <= 2
                ? (t, null, layer) : (null, c, layer);
        }
        var y = layer.Outputs[0]!;
        if (!BiasInput || y.Uses.Count != 1 || layer.Graph!.Outputs.Contains(y) || y.Uses[0].Node is not { OpType: "Add", IsDefaultDomain: true } add) return (null, null, layer);
        var other = add.Inputs[1 - y.Uses[0].Index];
        // The constant must hold one value per output channel on the last axis and broadcast to no more than the product's rank.
        return Graph.ConstantOf(other) is { DataType: DataType.Float } b && b.ElementCount == n && b.Dims.Length >= 1 && b.Dims[^1] == n
            && y.Shape is { } shape && b.Dims.Length <= shape.Rank && add.Outputs[0] is { } sum && shape.Equals(sum.Shape)
            ? (b, null, add) : (null, null, layer);
    }

    /// <summary>
    /// The packed weights a MatMulNBits node of 4 bits reads, or null when it is another node or its B, scales or uint8 zero
    /// points are not constants; their bytes are read without loading external data or copying bytes shared with a clone
    /// (do not write to them). Constants that ONNX Runtime would refuse (a block size that is not a power of two of 16 or
    /// more, K or N below 1, B, scales or zero points of other sizes) raise <see cref="ModelFormatException"/>.
    /// </summary>
    public static NBitsWeights? Read(Node node) => Parts(node) is { } p ? Weights(p, BytesOf) : null;

    /// <summary>The constants of a MatMulNBits node of 4 bits, checked (see <see cref="Read"/>), or null.</summary>
    private static (int N, int K, int Block, Tensor B, Tensor Scales, Tensor? Zeros, bool Padded)? Parts(Node node)
    {
        if (node.OpType != "MatMulNBits" || node.Domain != Domain || node.GetInt("bits", 4) != 4) return null;
        if (Graph.ConstantOf(node.Inputs.ElementAtOrDefault(1)) is not { DataType: DataType.UInt8 } b
            || Graph.ConstantOf(node.Inputs.ElementAtOrDefault(2)) is not { DataType: DataType.Float } s) return null;
        var z = Graph.ConstantOf(node.Inputs.ElementAtOrDefault(3));
        if (node.Inputs.ElementAtOrDefault(3) is not null && z is not { DataType: DataType.UInt8 }) return null;
        long k = node.GetInt("K", 0), n = node.GetInt("N", 0), block = node.GetInt("block_size", 0);
        CheckBlockSize(node, block);
        if (k < 1 || n < 1 || k > int.MaxValue || n > int.MaxValue) throw Bad(node, $"has K = {k} and N = {n}; each must be at least 1 and fit 32 bits");
        var blocks = (k + block - 1) / block;
        CheckCount(node, "B", b.ElementCount, n * blocks * block / 2, $"N·⌈K / block_size⌉·block_size / 2 = {n}·{blocks}·{block / 2}");
        CheckCount(node, "scales", s.ElementCount, n * blocks, $"N·⌈K / block_size⌉ = {n}·{blocks}");
        if (z is not null) CheckCount(node, "zero_points", z.ElementCount, n * ((blocks + 1) / 2), $"N·⌈⌈K / block_size⌉ / 2⌉ = {n}·{(blocks + 1) / 2}");
        return ((int)n, (int)k, (int)block, b, s, z, true);
    }

    /// <summary>
    /// The constants of a GatherBlockQuantized node of 4-bit uint8 data [V, E / 2] (the form <see cref="GatherNBitsPass"/>
    /// writes), checked as ONNX Runtime's kernel does: block size, gather axis 0, the last axis quantized, scales
    /// [V, ⌈E / block_size⌉], zero points [V, ⌈blocks / 2⌉]; null for another node, inputs that are not constants, or
    /// scales that are not float32.
    /// </summary>
    private static (int N, int K, int Block, Tensor B, Tensor Scales, Tensor? Zeros, bool Padded)? GatherParts(Node node)
    {
        if (node.OpType != "GatherBlockQuantized" || node.Domain != Domain || node.GetInt("bits", 4) != 4) return null;
        if (Graph.ConstantOf(node.Inputs.ElementAtOrDefault(0)) is not { DataType: DataType.UInt8, Dims: [var v, var half] } data
            || Graph.ConstantOf(node.Inputs.ElementAtOrDefault(2)) is not { } s) return null;
        var z = Graph.ConstantOf(node.Inputs.ElementAtOrDefault(3));
        if (node.Inputs.ElementAtOrDefault(3) is not null && z is null) return null;
        var block = node.GetInt("block_size", 128);
        CheckBlockSize(node, block);
        if (node.GetInt("gather_axis", 0) != 0 || node.GetInt("quantize_axis", 1) is not (1 or -1))
            throw Bad(node, $"has gather_axis {node.GetInt("gather_axis", 0)} and quantize_axis {node.GetInt("quantize_axis", 1)}; uint8 data needs gather_axis 0 and its last axis (1) quantized");
        var k = 2 * half;
        if (v > int.MaxValue || k > int.MaxValue) throw Bad(node, $"has data [{v}, {half}], more rows or columns than Shrink counts");
        CheckCount(node, "data", data.ByteLength, v * half, $"its shape [{v}, {half}]");
        var blocks = (k + block - 1) / block;
        if (!s.Dims.SequenceEqual(new[] { v, blocks }))
            throw Bad(node, $"has scales [{string.Join(",", s.Dims)}], expected [{v},{blocks}] (rows × ⌈{k} / block_size {block}⌉)");
        if (z is not null && (z.DataType != DataType.UInt8 || !z.Dims.SequenceEqual(new[] { v, (blocks + 1) / 2 })))
            throw Bad(node, $"has zero_points {z.DataType.ShortName()}[{string.Join(",", z.Dims)}], expected uint8[{v},{(blocks + 1) / 2}] (two per byte)");
        return s.DataType == DataType.Float ? ((int)v, (int)k, (int)block, data, s, z, false) : null;  // float16 scales: not read here
    }

    private static NBitsWeights Weights((int N, int K, int Block, Tensor B, Tensor Scales, Tensor? Zeros, bool Padded) p, Func<Tensor, byte[]> bytes) =>
        new(p.N, p.K, p.Block, bytes(p.B), MemoryMarshal.Cast<byte, float>(bytes(p.Scales)).ToArray(), p.Zeros is null ? null : bytes(p.Zeros), p.Padded);

    /// <summary>A tensor's bytes for reading: a loaded tensor's own (shared, not copied), an unloaded one's read without loading it.</summary>
    private static byte[] BytesOf(Tensor t) => t.IsLoaded ? t.SharedBytes : t.CopyBytes();

    private static void CheckBlockSize(Node node, long block)
    {
        if (block > int.MaxValue || !ValidBlockSize((int)block))
            throw Bad(node, $"has block_size {block}, which ONNX Runtime refuses: it must be a power of two of 16 or more");
    }

    private static void CheckCount(Node node, string input, long actual, long expected, string formula)
    {
        if (actual != expected) throw Bad(node, $"has {input} of {actual} elements, expected {expected} ({formula})");
    }

    private static ModelFormatException Bad(Node node, string problem) =>
        new($"{node.OpType} node '{Text.Message.Name(node.DisplayName)}' {problem}; the model is corrupt: export or quantize it again");

    /// <summary>
    /// For the size statistics: per B initializer of a MatMulNBits node, its K·N weights and those not at their zero point;
    /// per data initializer of a GatherBlockQuantized node (<see cref="GatherNBitsPass"/>), its V·E entries likewise. Weights
    /// in external data are counted without loading them, or, with <paramref name="countUnloaded"/> false, not read at all
    /// (every one counted as non-zero), as <see cref="Stats.ModelStats.Compute(Model, long?, IReadOnlyDictionary{string, long}?, bool)"/>
    /// does. A node that ONNX Runtime would refuse raises <see cref="ModelFormatException"/> (see <see cref="Read"/>).
    /// </summary>
    public static IReadOnlyDictionary<string, (long Parameters, long NonZero)> WeightCounts(Model model, bool countUnloaded = true)
    {
        var counts = new Dictionary<string, (long, long)>();
        foreach (var node in model.Graph.Nodes)
        {
            var (input, parts) = node.OpType == "GatherBlockQuantized" ? (0, GatherParts(node)) : (1, Parts(node));
            if (parts is not { } p || node.Inputs[input]!.Const is null) continue;  // keyed by initializer
            var parameters = (long)p.N * p.K;
            var read = countUnloaded || (p.B.IsLoaded && p.Scales.IsLoaded && p.Zeros is not { IsLoaded: false });
            counts[node.Inputs[input]!.Name] = (parameters, read ? Weights(p, BytesOf).NonZero : parameters);
        }
        return counts;
    }

    private static byte[] PackZeroPoints(byte[] zeros, int n, int blocks)
    {
        var perRow = (blocks + 1) / 2;
        var packed = new byte[n * perRow];
        for (var r = 0; r < n; r++)
            for (var g = 0; g < blocks; g++) packed[r * perRow + g / 2] |= (byte)(zeros[r * blocks + g] << (4 * (g % 2)));
        return packed;
    }
}
