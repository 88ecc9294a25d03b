using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Ops;

namespace Shrink.Stats;

/// <summary>Per-layer statistics: a node with parameters or MACs.</summary>
public sealed record LayerStats(string Name, string OpType, string OutputShape, long Parameters, long NonZero, long? Macs)
{
    /// <summary>Fraction of parameters that are zero.</summary>
    public double Sparsity => Parameters == 0 ? 0 : 1 - (double)NonZero / Parameters;

    /// <summary>False when some of the layer's weights were left in external data uncounted (<see cref="NonZero"/> then counts them all as non-zero).</summary>
    public bool NonZeroCounted { get; init; } = true;
}

/// <summary>
/// Model statistics: parameters (elements of floating-point and quantized initializers; int64/int32
/// shape constants are not parameters), non-zero parameters, bytes on disk, MACs per sample per node
/// and in total, and a per-layer table.
/// </summary>
public sealed record ModelStats(
    long Parameters, long NonZero, long BytesOnDisk, long Macs, bool MacsComplete,
    int Nodes, IReadOnlyList<LayerStats> Layers, IReadOnlyDictionary<string, int> OpCounts)
{
    public double Sparsity => Parameters == 0 ? 0 : 1 - (double)NonZero / Parameters;

    /// <summary>
    /// Bytes of the parameters at their stored width, with low-bit weights (recorded by the quantizer in
    /// the <c>shrink.weight_bits</c> metadata) counted at their packed width: what the weights need in a
    /// format that packs them.
    /// </summary>
    public long PackedBytes { get; init; }

    /// <summary>
    /// Parameters whose zeros were not counted: weights still in external data when <c>countUnloaded</c> is false
    /// (counted as non-zero in <see cref="NonZero"/>).
    /// </summary>
    public long UncountedParameters { get; init; }

    /// <summary>
    /// Computes statistics; <paramref name="bytesOnDisk"/> is the file size (null: the serialized size). MACs are per sample
    /// (the first axis is the batch); a model with other symbolic axes (a transformer's <c>sequence</c>) has MACs only for
    /// the sizes <paramref name="dims"/> gives them (the <c>--dim</c> values), else those layers' MACs are unknown. Weights in
    /// external data are counted without loading them (<see cref="NonZeroCount"/>), or, with
    /// <paramref name="countUnloaded"/> false, not read at all: the statistics then need no weight's value.
    /// </summary>
    public static ModelStats Compute(Model model, long? bytesOnDisk = null, IReadOnlyDictionary<string, long>? dims = null, bool countUnloaded = true)
    {
        long CountNonZero(Tensor t) => countUnloaded || t.IsLoaded ? NonZeroCount.Of(t) : t.ElementCount;
        bool Counted(Tensor t) => countUnloaded || t.IsLoaded;
        ShapeInference.Run(model);
        var layers = new List<LayerStats>();
        var counted = new HashSet<Value>();
        long macs = 0;
        var complete = true;
        foreach (var node in model.Graph.TopologicalOrder())
        {
            var weights = node.Inputs.OfType<Value>().Where(v => Graph.ConstantOf(v) is { } t && IsParameter(t) && counted.Add(v))
                .Select(v => Graph.ConstantOf(v)!).ToList();
            var nodeMacs = ShapeInference.Macs(model, node, dims);
            var hasMacs = OpRegistry.Find(node.Domain, node.OpType)?.Macs is not null;
            if (hasMacs && nodeMacs is null) complete = false;
            macs += nodeMacs ?? 0;
            if (weights.Count == 0 && nodeMacs is null) continue;
            layers.Add(new LayerStats(node.DisplayName, node.OpType, node.Outputs.FirstOrDefault()?.Shape?.ToString() ?? "?",
                weights.Sum(t => t.ElementCount), weights.Sum(CountNonZero), nodeMacs) { NonZeroCounted = weights.All(Counted) });
        }
        var all = model.AllGraphs().SelectMany(Constants).Where(IsParameter).ToList();
        var ops = model.Graph.Nodes.GroupBy(n => n.OpType).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());
        var packedBits = PackedBits(model);
        var packed = all.Sum(t => (t.ElementCount * (packedBits.TryGetValue(t.Name, out var bits) ? bits : t.DataType.BitWidth()) + 7) / 8);
        // MatMulNBits' B holds two 4-bit weights per byte: K·N parameters, the zero ones being the levels at their zero point.
        var nbits = Passes.Quantization.MatMulNBits.WeightCounts(model, countUnloaded);
        return new ModelStats(all.Sum(t => nbits.TryGetValue(t.Name, out var c) ? c.Parameters : t.ElementCount),
            all.Sum(t => nbits.TryGetValue(t.Name, out var c) ? c.NonZero : CountNonZero(t)),
            bytesOnDisk ?? OnnxWriter.ToBytes(model).LongLength, macs, complete, model.Graph.Nodes.Count, layers, ops)
        {
            PackedBytes = packed,
            UncountedParameters = all.Where(t => !Counted(t)).Sum(t => nbits.TryGetValue(t.Name, out var c) ? c.Parameters : t.ElementCount),
        };
    }

    /// <summary>
    /// <see cref="PackedBytes"/> with every floating-point parameter tensor that holds zeros counted as Deep Compression
    /// stores a pruned layer where that is smaller (<see cref="Container.RelativeIndex"/>: b-bit relative positions and the
    /// non-zero values at their stored width, the best b in 1…8, filler entries counted): what a sparse model's weights
    /// take in a sparse format, so that unstructured pruning alone counts for size as it does in the paper's tables.
    /// </summary>
    public static long SparseBytes(Model model)
    {
        var packedBits = PackedBits(model);
        return model.AllGraphs().SelectMany(Constants).Where(IsParameter).Sum(t =>
        {
            var bits = packedBits.TryGetValue(t.Name, out var b) ? b : t.DataType.BitWidth();
            var dense = (t.ElementCount * bits + 7) / 8;
            if (!t.DataType.IsFloat() || bits < 8 || t.ElementCount > int.MaxValue) return dense;
            var positions = NonZeroPositions(t);
            return positions.Count == t.ElementCount ? dense : Math.Min(dense, Container.RelativeIndex.Smallest(positions, t.ElementCount, bits).Bytes);
        });
    }

    /// <summary>The indices of a tensor's elements that are not zero (byte-wide types; −0.0 counts as zero).</summary>
    private static List<int> NonZeroPositions(Tensor t)
    {
        var bytes = t.Bytes;
        var size = t.DataType.BitWidth() / 8;
        var positions = new List<int>();
        for (var i = 0; i + size <= bytes.Length; i += size)
            if (!NonZeroCount.IsZero(bytes.Slice(i, size), t.DataType)) positions.Add(i / size);
        return positions;
    }

    /// <summary>The packed widths the quantizer recorded in the <c>shrink.weight_bits</c> metadata ("w:4,v:4"), by tensor.</summary>
    private static Dictionary<string, int> PackedBits(Model model) =>
        (model.Metadata.FirstOrDefault(kv => kv.Key == "shrink.weight_bits").Value ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries).Select(e => e.Split(':')).Where(p => p.Length == 2 && int.TryParse(p[1], out _))
            .ToDictionary(p => p[0], p => int.Parse(p[1]));

    /// <summary>Every constant tensor of a graph: initializers and the values of Constant nodes.</summary>
    private static IEnumerable<Tensor> Constants(Graph g) =>
        g.Initializers.Select(v => v.Const!).Concat(g.Nodes.Where(n => n.OpType == "Constant").Select(n => n.GetTensor("value")).OfType<Tensor>());

    /// <summary>Reads a file and computes its statistics with its size on disk (external data included).</summary>
    public static ModelStats Compute(string path, IReadOnlyDictionary<string, long>? dims = null) => Compute(OnnxReader.Read(path), path, dims);

    /// <summary>The statistics of <paramref name="model"/>, read from <paramref name="path"/>, with its size on disk.</summary>
    public static ModelStats Compute(Model model, string path, IReadOnlyDictionary<string, long>? dims = null, bool countUnloaded = true) =>
        Compute(model, SizeOnDisk(model, path), dims, countUnloaded);

    /// <summary>Bytes of a model file plus the external data files it names (read from the file's graph, no weight read).</summary>
    public static long SizeOnDisk(string path)
    {
        OnnxReader.CheckFile(path);
        return new FileInfo(path).Length + ExternalDataFiles.Referenced(path).Where(File.Exists).Sum(f => new FileInfo(f).Length);
    }

    /// <summary>Bytes of the file <paramref name="model"/> was read from plus the external data files it names.</summary>
    public static long SizeOnDisk(Model model, string path) =>
        new FileInfo(path).Length + ExternalFiles(model, path).Sum(f => new FileInfo(f).Length);

    private static IEnumerable<string> ExternalFiles(Model model, string path) =>
        model.AllGraphs().SelectMany(g => g.Initializers).Select(v => v.Const!.ExternalInfo)
            .OfType<IReadOnlyList<KeyValuePair<string, string>>>()
            .Select(info => info.FirstOrDefault(kv => kv.Key == "location").Value).OfType<string>().Distinct()
            .Select(loc => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, loc)).Where(File.Exists);

    /// <summary>Floating-point tensors and 8/4-bit integer tensors (quantized weights) count as parameters.</summary>
    public static bool IsParameter(Tensor t) =>
        t.DataType.IsFloat() || t.DataType is DataType.Int8 or DataType.UInt8 or DataType.Int4 or DataType.UInt4;

    /// <summary>Elements that are not zero (for sub-byte types, nibbles that are not zero); see <see cref="NonZeroCount"/>.</summary>
    public static long CountNonZero(Tensor t) => NonZeroCount.Of(t);
}
