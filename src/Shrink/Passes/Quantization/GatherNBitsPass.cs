using Shrink.Ir;
using Shrink.Techniques;

namespace Shrink.Passes.Quantization;

/// <summary>
/// <c>gather-nbits</c>: weight-only int4 of embedding tables as ONNX Runtime's <c>com.microsoft.GatherBlockQuantized</c>, the
/// companion of <see cref="MatMulNBits"/> its own weight-only quantizer writes for Gathers: a constant float table [V, E] read
/// only by Gathers on axis 0 (a text model's word and position embeddings) becomes uint8 [V, E/2], two levels per byte with
/// the first in the low nibble, and float scales [V, E/B] — block-wise along E, B = <see cref="MatMulNBitsOptions.BlockSize"/>,
/// levels as MatMulNBits takes them (symmetric ±7 around the default zero point 8, or a zero point per block with
/// <see cref="MatMulNBitsOptions.Asymmetric"/>) — and each Gather a GatherBlockQuantized node that gathers the rows and
/// dequantizes them (gather_axis 0, quantize_axis 1, bits 4). A table whose width is not a multiple of the block size, or
/// whose Gathers are excluded, stays float with a note. Counters: <c>tables</c>. Artifact: the weights'
/// <see cref="QuantizationParameters"/>, added to those of the pass before it.
/// </summary>
public sealed class GatherNBitsPass : Pass
{
    private readonly MatMulNBitsOptions _options;

    public GatherNBitsPass(MatMulNBitsOptions options) => _options = options.Validate();

    public override string Id => "gather-nbits";

    /// <summary>The constant float tables of rank 2 read only by default-domain Gathers on axis 0 (as their data), each with those Gathers.</summary>
    public static List<(Value Table, List<Node> Gathers)> Tables(Model model) => model.Graph.Initializers
        .Where(v => v.Const is { DataType: DataType.Float, Dims.Length: 2 } && v.Uses.Count > 0
            && v.Uses.All(u => u.Index == 0 && u.Node is { OpType: "Gather", IsDefaultDomain: true } g && g.Graph == model.Graph && g.GetInt("axis", 0) == 0))
        .Select(v => (v, v.Uses.Select(u => u.Node).Distinct().ToList())).ToList();

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        var graph = model.Graph;
        var weights = new List<QuantizedTensor>();
        foreach (var (table, gathers) in Tables(model))
        {
            var width = table.Const!.Dims[1];
            if (gathers.Any(g => _options.Exclude.Contains(g.Name))) continue;
            if (width % _options.BlockSize != 0)
            {
                context.Notes.Add($"embedding table '{Text.Message.Name(table.Name)}' stays float: its width {width} is not a multiple of the block size {_options.BlockSize}, which GatherBlockQuantized needs");
                continue;
            }
            weights.Add(Emit(model, table, gathers));
        }
        if (weights.Count > 0 && model.OpsetVersion(MatMulNBits.Domain) is null) model.SetOpset(MatMulNBits.Domain, 1);
        if (weights.Count > 0)
            context.Notes.Add($"{weights.Count} embedding table{(weights.Count == 1 ? "" : "s")} written as ONNX Runtime's GatherBlockQuantized (int4, {_options.BlockSize} per scale" +
                $"{(_options.Asymmetric ? ", a zero point per block" : ", symmetric")}), which gathers the packed rows and dequantizes them; choose --op-types to keep them float");
        graph.RemoveUnusedInitializers();
        var before = context.Artifact<QuantizationParameters>();
        return new PassResult(model, weights.Count > 0, new Dictionary<string, long> { ["tables"] = weights.Count })
        {
            Artifacts = weights.Count == 0 ? Array.Empty<IArtifact>()
                : new IArtifact[] { (before ?? new QuantizationParameters()) with { Tensors = (before?.Tensors ?? Array.Empty<QuantizedTensor>()).Concat(weights).ToList() } },
        };
    }

    private QuantizedTensor Emit(Model model, Value table, List<Node> gathers)
    {
        var graph = model.Graph;
        var t = table.Const!;
        int rows = (int)t.Dims[0], width = (int)t.Dims[1];
        var q = MatMulNBits.Quantize(t.Floats.ToArray(), rows, width, _options.BlockSize, _options.Asymmetric);   // [V, blocks, B/2] = [V, E/2]: E is a multiple of B
        var data = graph.AddInitializer(new Tensor(table.Name + "_Q4", DataType.UInt8, new long[] { rows, width / 2 }, q.B));
        var scales = graph.AddInitializer(Tensor.FromFloats(table.Name + "_scales", new long[] { rows, q.Blocks }, q.Scales));
        var zeros = q.ZeroPoints is null ? null
            : graph.AddInitializer(new Tensor(table.Name + "_zero_points", DataType.UInt8, new long[] { rows, (q.Blocks + 1) / 2 }, q.ZeroPoints));
        foreach (var gather in gathers)
        {
            var node = new Node("GatherBlockQuantized", MatMulNBits.Domain, graph.UniqueName(gather.DisplayName + "_Q4"));
            node.AddInput(data);
            node.AddInput(gather.Inputs[1]);
            node.AddInput(scales);
            if (zeros is not null) node.AddInput(zeros);
            node.Attributes.AddRange(new[] { Ir.Attribute.Int("gather_axis", 0), Ir.Attribute.Int("quantize_axis", 1), Ir.Attribute.Int("block_size", _options.BlockSize), Ir.Attribute.Int("bits", 4) });
            var output = gather.Outputs[0]!;
            var y = node.AddOutput(new Value(graph.UniqueName(output.Name + "_nbits"), DataType.Float, output.Shape))!;
            graph.ReplaceNode(gather, new[] { node }, new[] { y });
        }
        var zeroPoints = Enumerable.Range(0, rows * q.Blocks).Select(i => q.ZeroPoint(i / q.Blocks, i % q.Blocks)).ToArray();
        return new QuantizedTensor(table.Name, QuantizedRole.Weight, DataType.UInt4, 4, 1, _options.BlockSize, new long[] { rows, q.Blocks }, q.Scales, zeroPoints);
    }
}
