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
    /// Computes statistics; <paramref name="bytesOnDisk"/> is the file size (null: the serialized size). Weights in
    /// external data are counted without loading them (<see cref="NonZeroCount"/>), or, with
    /// <paramref name="countUnloaded"/> false, not read at all: the statistics then need no weight's value.
    /// </summary>
    public static ModelStats Compute(Model model, long? bytesOnDisk = null, bool countUnloaded = true)
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
            var nodeMacs = ShapeInference.Macs(model, node);
            var hasMacs = OpRegistry.Find(node.Domain, node.OpType)?.Macs is not null;
            if (hasMacs && nodeMacs is null) complete = false;
            macs += nodeMacs ?? 0;
            if (weights.Count == 0 && nodeMacs is null) continue;
            layers.Add(new LayerStats(node.DisplayName, node.OpType, node.Outputs.FirstOrDefault()?.Shape?.ToString() ?? "?",
                weights.Sum(t => t.ElementCount), weights.Sum(CountNonZero), nodeMacs) { NonZeroCounted = weights.All(Counted) });
        }
        var all = model.AllGraphs().SelectMany(Constants).Where(IsParameter).ToList();
        var ops = model.Graph.Nodes.GroupBy(n => n.OpType).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());
        var packedBits = (model.Metadata.FirstOrDefault(kv => kv.Key == "shrink.weight_bits").Value ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries).Select(e => e.Split(':')).Where(p => p.Length == 2 && int.TryParse(p[1], out _))
            .ToDictionary(p => p[0], p => int.Parse(p[1]));
        var packed = all.Sum(t => (t.ElementCount * (packedBits.TryGetValue(t.Name, out var bits) ? bits : t.DataType.BitWidth()) + 7) / 8);
        // MatMulNBits' B holds two 4-bit weights per byte: K·N parameters, the zero ones being the levels at their zero point.
        var nbits = Passes.Quantization.MatMulNBits.WeightCounts(model);
        return new ModelStats(all.Sum(t => nbits.TryGetValue(t.Name, out var c) ? c.Parameters : t.ElementCount),
            all.Sum(t => nbits.TryGetValue(t.Name, out var c) ? c.NonZero : CountNonZero(t)),
            bytesOnDisk ?? OnnxWriter.ToBytes(model).LongLength, macs, complete, model.Graph.Nodes.Count, layers, ops)
        {
            PackedBytes = packed,
            UncountedParameters = all.Where(t => !Counted(t)).Sum(t => t.ElementCount),
        };
    }

    /// <summary>Every constant tensor of a graph: initializers and the values of Constant nodes.</summary>
    private static IEnumerable<Tensor> Constants(Graph g) =>
        g.Initializers.Select(v => v.Const!).Concat(g.Nodes.Where(n => n.OpType == "Constant").Select(n => n.GetTensor("value")).OfType<Tensor>());

    /// <summary>Reads a file and computes its statistics with its size on disk (external data included).</summary>
    public static ModelStats Compute(string path) => Compute(OnnxReader.Read(path), path);

    /// <summary>The statistics of <paramref name="model"/>, read from <paramref name="path"/>, with its size on disk.</summary>
    public static ModelStats Compute(Model model, string path, bool countUnloaded = true) => Compute(model, SizeOnDisk(model, path), countUnloaded);

    /// <summary>Bytes of a model file plus the external data files it names (read from the file's graph, no weight read).</summary>
    public static long SizeOnDisk(string path) =>
        new FileInfo(path).Length + ExternalDataFiles.Referenced(path).Where(File.Exists).Sum(f => new FileInfo(f).Length);

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
