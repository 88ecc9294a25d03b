using Shrink.Ir;
using Shrink.Ops;
using Shrink.Techniques;
using Shrink.Text;

namespace Shrink.Passes.Quantization;

// How quantize-static writes weights and activations: the container of low-bit weights, the weight schemes, and the
// DequantizeLinear/QuantizeLinear nodes it inserts.
public sealed partial class QuantizeStaticPass
{

    /// <summary>
    /// INT4 when low-bit layers are asked for in INT4 and the opset can be raised to 21 (it is, here);
    /// otherwise int8 levels, with a note saying why.
    /// </summary>
    private DataType LowBitStorageFor(Model model, QuantPlan plan, PassContext context)
    {
        var (storage, reason) = ResolveStorage(model, plan);
        if (reason is not null) context.Notes.Add($"low-bit weights kept as int8 levels (not ONNX int4, which needs opset {Int4Opset}): {reason}");
        if (storage != DataType.Int4) return storage;
        OpsetUpgrade.To(model, Int4Opset);
        const string kernels = "ONNX Runtime 1.31 has no integer Conv or Gemm kernel for int4 weights: it dequantizes them and runs float kernels "
            + "(its optimizer fuses a block-wise DequantizeLinear into a MatMul reading it as MatMulNBits, but not into a Gemm, nor into a MatMul + Add it has made a Gemm)";
        var flag = OptionName.Of(nameof(QuantizationOptions.LowBitStorage));
        context.Note(_options.Activations == DataType.Float && _options.MatMulNBits is null && plan.Layers.Any(l => l.OpType is "MatMul" or "Gemm" && _options.BitsOf(l) == 4)
            ? OptionText.Of($"low-bit weights stored as ONNX int4 (opset raised to {Int4Opset}); {kernels}; {flag} matmulnbits writes MatMul and Gemm layers as MatMulNBits")
            : OptionText.Of($"low-bit weights stored as ONNX int4 (opset raised to {Int4Opset}); {kernels}; {flag} int8 keeps its int8 kernels"));
        return DataType.Int4;
    }

    /// <summary>
    /// The container of the low-bit weights of <paramref name="plan"/> (without changing the model): INT4 when
    /// asked and the opset can be raised to 21, else int8, with the reason when INT4 was asked but cannot be had.
    /// </summary>
    private (DataType Storage, string? Reason) ResolveStorage(Model model, QuantPlan plan)
    {
        if (_options.LowBitStorage != DataType.Int4 || !plan.Layers.Any(l => _options.BitsOf(l) <= 4 && NBitsBlock(l) is null)) return (DataType.Int8, null);
        return OpsetUpgrade.Check(model, Int4Opset) is { } reason ? (DataType.Int8, reason) : (DataType.Int4, null);
    }

    /// <summary>
    /// The scheme each weight of <paramref name="model"/> will be quantized with, by weight name: what the export
    /// writes, and so what quantization-aware training must train on (block-wise where the weights are stored as
    /// INT4 with a block size; 7-bit where <see cref="QuantizationOptions.ResolveReduceRange"/> says so).
    /// </summary>
    public IReadOnlyDictionary<string, WeightScheme> WeightSchemes(Model model)
    {
        var plan = Plan(model);
        var (storage, _) = ResolveStorage(model, plan);
        var reduceRange = _options.ResolveReduceRange(integerKernels: _options.Activations != DataType.Float).On;
        if (_options.MatMulNBits is { Asymmetric: true } && plan.Layers.Any(l => NBitsBlock(l) is not null))
            throw OptionsException.For(nameof(QuantizeOptions.AsymmetricWeights), "does not apply to quantization-aware training, which trains symmetric weights; train without it");
        return plan.Layers.ToDictionary(l => l.Inputs[1]!.Name, l => SchemeOf(l, storage, reduceRange && IntegerKernel(model, l, plan)));
    }

    /// <summary>
    /// Whether ONNX Runtime runs <paramref name="layer"/> as an integer kernel: its input quantized, and a Conv's output
    /// too (QLinearConv). A layer next to a tensor kept in float runs a float kernel on its dequantized weights, which then
    /// need no reduced range.
    /// </summary>
    private static bool IntegerKernel(Model model, Node layer, QuantPlan plan)
    {
        var tensors = plan.Tensors.ToHashSet();
        var y = layer.Outputs[0]!;
        return tensors.Contains(RemovedInput(layer.Inputs[0]!, plan.RemovedActivations.ToList()))
            && (tensors.Contains(y) || layer.OpType != "Conv" && model.Graph.Outputs.Contains(y));
    }

    /// <summary>The scheme of one layer's weight with the low-bit weights in <paramref name="storage"/>.</summary>
    public WeightScheme SchemeOf(Node layer, DataType storage, bool reduceRange)
    {
        var bits = _options.BitsOf(layer);
        var block = NBitsBlock(layer) ?? (storage == DataType.Int4 && bits <= 4 ? _options.BlockSize : 0);
        return new WeightScheme
        {
            Bits = bits, BlockSize = block, ReduceRange = reduceRange, Axis = block > 0 ? ReductionAxis(layer) : OutputChannelAxis(layer),
            Granularity = block > 0 ? WeightGranularity.BlockWise : _options.PerChannel ? WeightGranularity.PerChannel : WeightGranularity.PerTensor,
        };
    }

    /// <summary>The weight axis of a layer's output channels (the op registry's <see cref="WeightLayout.OutputAxis"/>): 0 for Conv and Gemm with transB, else 1.</summary>
    public static int OutputChannelAxis(Node layer) => OpRoles.Layer(layer)!.OutputAxis;

    /// <summary>The weight axis a layer sums over (Conv input channels, Gemm/MatMul K): 1 for Conv and Gemm with transB, else 0.</summary>
    public static int ReductionAxis(Node layer) => OpRoles.Layer(layer)!.InputAxis;

    /// <summary>DequantizeLinear takes INT4 from opset 21.</summary>
    public const int Int4Opset = 21;

    /// <summary>The largest |int32 bias| written: more would leave too little headroom for the products the kernel adds to it.</summary>
    public const double BiasLimit = 1 << 30;

    /// <summary>
    /// Whether <paramref name="layer"/> is meant for MatMulNBits (weight-only int4 MatMul/Gemm with <see cref="QuantizationOptions.MatMulNBits"/>),
    /// and why it cannot be (null when it can); (false, null) for a layer not meant for it.
    /// </summary>
    private (bool Meant, string? WhyNot) NBitsFor(Node layer) =>
        _options.MatMulNBits is { } nbits && _options.Activations == DataType.Float && _options.BitsOf(layer) == 4 && layer.OpType is "MatMul" or "Gemm"
            ? (true, MatMulNBits.WhyNot(layer, nbits.BlockSize)) : (false, null);

    /// <summary>The block size of a layer written as MatMulNBits, or null when it is not.</summary>
    private int? NBitsBlock(Node layer) => NBitsFor(layer) is (true, null) ? _options.MatMulNBits!.BlockSize : null;

    /// <summary>The layers MatMulNBits takes (their parameters) and those meant for it that it cannot (layer, reason), for the notes.</summary>
    private sealed record NBitsLayers(List<QuantizedTensor> Emitted, List<(string Layer, string Reason)> Fallbacks);

    /// <summary>The notes on the layers written as MatMulNBits and on those kept behind DequantizeLinear instead, and why.</summary>
    private void NoteNBits(NBitsLayers nbits, PassContext context)
    {
        var settings = _options.MatMulNBits!;
        if (nbits.Emitted.Count > 0)
            context.Notes.Add($"int4 weights of {nbits.Emitted.Count} MatMul/Gemm layer{(nbits.Emitted.Count == 1 ? "" : "s")} written for ONNX Runtime's MatMulNBits " +
                $"(com.microsoft; {settings.BlockSize} per scale, {(settings.Asymmetric ? "a zero point per block" : "symmetric")}), whose CPU kernels read them packed");
        foreach (var group in nbits.Fallbacks.GroupBy(f => f.Reason))
            context.Notes.Add($"{group.Count()} layer{(group.Count() == 1 ? "" : "s")} kept as int4 behind DequantizeLinear, not MatMulNBits " +
                $"({Message.List(group.Take(3).Select(f => $"'{Message.Name(f.Layer)}'"))}{(group.Count() > 3 ? ", …" : "")}): {group.Key}" +
                (settings.Asymmetric ? "; their weights are symmetric" : ""));
    }

    /// <summary>
    /// int8 weights (low-bit levels where asked, INT4 when <paramref name="storage"/> says so) and an int32 bias behind
    /// DequantizeLinear, or the layer replaced by MatMulNBits (listed in <paramref name="nbits"/>); returns the name of the
    /// weight tensor whose packed bits the size statistics count, or null for MatMulNBits (its bytes are packed already).
    /// </summary>
    private string? QuantizeWeights(Model model, Node layer, QuantParams? input, DataType storage, bool reduceRange, List<string> floatBiases, NBitsLayers nbits)
    {
        switch (NBitsFor(layer))
        {
            case (true, null):
                nbits.Emitted.Add(MatMulNBits.Emit(model, layer, _options.MatMulNBits!));
                return null;
            case (true, { } why):
                nbits.Fallbacks.Add((layer.DisplayName, why));
                break;
        }
        var graph = model.Graph;
        var w = layer.Inputs[1]!;
        var t = w.Const!;
        var channels = (int)t.Dims[OutputChannelAxis(layer)];
        var scheme = SchemeOf(layer, storage, reduceRange);
        var block = scheme.Granularity == WeightGranularity.BlockWise ? scheme.BlockSize : 0;
        var (qw, ws, wz, scales) = WeightQuantizer.AddQuantized(graph, w.Name, t.Floats.ToArray(), t.Dims, scheme, storage);
        var name = layer.DisplayName;
        var dq = Dequantize(graph, name + "_weight", qw, ws, wz, scheme.Granularity == WeightGranularity.PerTensor ? null : scheme.Axis, DataType.Float);
        if (block > 0) dq.Producer!.Attributes.Add(Ir.Attribute.Int("block_size", block));
        layer.SetInput(1, dq);

        // Block-wise weights have no scale per output channel for an int32 bias, nor float activations an input scale: the bias stays float.
        if (input is not { } x || block > 0 || layer.OpType == "MatMul" || layer.Inputs.ElementAtOrDefault(2) is not { Const: { DataType: DataType.Float, Dims.Length: 1 } bias } b
            || bias.Dims[0] != channels) return qw.Name;
        var bv = bias.Floats.ToArray();
        var bscale = bv.Select((_, c) => x.Scale * scales[_options.PerChannel ? c : 0]).ToArray();
        // A bias far larger than input scale × weight scale (an input range near zero) would saturate in int32 and vanish: it stays float, as it was.
        if (bv.Where((v, c) => Math.Abs(Math.Round(v / (double)bscale[c])) > BiasLimit).Any())
        {
            floatBiases.Add(layer.DisplayName);
            return qw.Name;
        }
        var bq = bv.Select((x, c) => (int)Math.Clamp(Math.Round(x / bscale[c]), int.MinValue, int.MaxValue)).ToArray();
        var qb = graph.AddInitializer(new Tensor(b.Name + "_quantized", DataType.Int32, bias.Dims, bq.SelectMany(BitConverter.GetBytes).ToArray()));
        var bs = graph.AddInitializer(Tensor.FromFloats(b.Name + "_scale", bias.Dims, bscale));
        var bz = graph.AddInitializer(new Tensor(b.Name + "_zero_point", DataType.Int32, bias.Dims, new byte[bias.Dims[0] * 4]));
        layer.SetInput(2, Dequantize(graph, name + "_bias", qb, bs, bz, 0, DataType.Float));
        return qw.Name;
    }

    /// <summary>
    /// x → QuantizeLinear → DequantizeLinear; every reader of x then reads the dequantized value. The scale
    /// and zero point are new initializers, or <paramref name="shared"/> ones; returns them.
    /// </summary>
    private static (Value Scale, Value Zero) InsertQdq(Graph graph, Value x, QuantParams p, (Value Scale, Value Zero)? shared)
    {
        var readers = x.Uses.ToList();
        var isOutput = graph.Outputs.Contains(x);
        var (scale, zero) = shared ?? (graph.AddInitializer(Tensor.FromFloats(x.Name + "_scale", Array.Empty<long>(), new[] { p.Scale })),
            graph.AddInitializer(new Tensor(x.Name + "_zero_point", p.Type, Array.Empty<long>(), new[] { p.Type == DataType.UInt8 ? (byte)p.ZeroPoint : (byte)(sbyte)p.ZeroPoint })));
        if (readers.Count == 0 && !isOutput) return (scale, zero);
        var quantize = new Node("QuantizeLinear", "", graph.UniqueName(x.Name + "_QuantizeLinear"));
        quantize.AddInput(x);
        quantize.AddInput(scale);
        quantize.AddInput(zero);
        var q = quantize.AddOutput(new Value(graph.UniqueName(x.Name + "_quantized"), p.Type, x.Shape))!;
        if (x.Producer is { } producer) graph.InsertAfter(producer, quantize);
        else graph.InsertBefore(graph.TopologicalOrder()[0], quantize);
        var dq = Dequantize(graph, x.Name, q, scale, zero, null, DataType.Float, after: quantize);
        dq.Shape = x.Shape;
        foreach (var use in readers) use.Node.SetInput(use.Index, dq);
        if (isOutput)
        {
            graph.ReplaceAllUsesWith(x, dq);  // the graph output (and its name) becomes the dequantized value…
            quantize.SetInput(0, x);          // …but QuantizeLinear still reads x, or the graph would have a cycle
        }
        return (scale, zero);
    }

    private static Value Dequantize(Graph graph, string name, Value q, Value scale, Value zero, int? axis, DataType type, Node? after = null)
    {
        var node = new Node("DequantizeLinear", "", graph.UniqueName(name + "_DequantizeLinear"));
        node.AddInput(q);
        node.AddInput(scale);
        node.AddInput(zero);
        if (axis is { } a) node.Attributes.Add(Ir.Attribute.Int("axis", a));
        var output = node.AddOutput(new Value(graph.UniqueName(name + "_dequantized"), type))!;
        if (after is not null) graph.InsertAfter(after, node);
        else graph.InsertBefore(graph.TopologicalOrder()[0], node);
        return output;
    }
}
