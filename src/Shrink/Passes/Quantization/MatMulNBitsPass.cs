using Shrink.Ir;
using Shrink.Ops;
using Shrink.Techniques;
using Shrink.Text;

namespace Shrink.Passes.Quantization;

/// <summary>Options of int4 weights for ONNX Runtime's <c>com.microsoft.MatMulNBits</c> (<see cref="MatMulNBits"/>).</summary>
public sealed record MatMulNBitsOptions
{
    /// <summary>Weights per scale along K: a power of two, at least 16 (ONNX Runtime's default, 32).</summary>
    public int BlockSize { get; init; } = 32;

    /// <summary>A zero point per block (min/max levels 0 to 15) instead of symmetric levels ±7 around ONNX Runtime's default zero point 8.</summary>
    public bool Asymmetric { get; init; }

    /// <summary>
    /// The node's <c>accuracy_level</c>: 0 (unset) computes in float on the dequantized blocks; 4 lets ONNX Runtime quantize the
    /// activations to int8 per block and multiply in integers where the CPU has a kernel for it (faster on large batches,
    /// less exact). 1 to 3 compute in float on x86.
    /// </summary>
    public int AccuracyLevel { get; init; }

    /// <summary>Names of nodes left in float.</summary>
    public IReadOnlySet<string> Exclude { get; init; } = new HashSet<string>();

    /// <summary>Checks the values (<see cref="OptionsException"/> naming the property); returns the options.</summary>
    public MatMulNBitsOptions Validate()
    {
        if (!MatMulNBits.ValidBlockSize(BlockSize)) throw OptionsException.For(nameof(BlockSize), $"must be a power of two of 16 or more (MatMulNBits' block_size), got {BlockSize}");
        if (AccuracyLevel is < 0 or > 4) throw OptionsException.For(nameof(AccuracyLevel), $"must be 0 to 4 (MatMulNBits' accuracy_level), got {AccuracyLevel}");
        return this;
    }
}

/// <summary>
/// <c>matmul-nbits</c>: weight-only int4 of every MatMul (constant 2-D B) and plain Gemm with float activations as ONNX
/// Runtime's <c>com.microsoft.MatMulNBits</c> (<see cref="MatMulNBits"/>: block-wise along K, round to nearest, symmetric or
/// asymmetric, the bias as the node's bias input). Layers it cannot emit (a batched B, a scalar input, a Gemm with
/// transA, alpha or beta) stay float, with a note. Needs no data and no training; shapes are unchanged. The
/// <c>quantize</c> technique makes the same nodes for weight-only int4 (<see cref="WeightStorage.MatMulNBits"/>), with the
/// other layers behind DequantizeLinear. Counters: <c>layers</c> emitted, <c>left-float</c>. Artifact: the weights'
/// <see cref="QuantizationParameters"/>.
/// </summary>
public sealed class MatMulNBitsPass : Pass
{
    private readonly MatMulNBitsOptions _options;

    public MatMulNBitsPass(MatMulNBitsOptions options) => _options = options.Validate();

    public override string Id => "matmul-nbits";

    public override string? CheckPreconditions(Model model) =>
        model.Graph.Nodes.Any(n => n.OpType is "MatMul" or "Gemm" && n.IsDefaultDomain && Graph.ConstantOf(n.Inputs.ElementAtOrDefault(1)) is { DataType: DataType.Float })
            ? null : "the model has no MatMul or Gemm with a constant float weight to quantize";

    protected internal override PassResult RunInPlace(Model model, PassContext context)
    {
        if (CheckPreconditions(model) is { } reason) throw new OptionsException(reason);
        ShapeInference.Run(model);
        var tensors = new List<QuantizedTensor>();
        var left = new List<(string Layer, string Reason)>();
        foreach (var layer in model.Graph.TopologicalOrder().Where(n => n.OpType is "MatMul" or "Gemm" && n.IsDefaultDomain && !_options.Exclude.Contains(n.Name)).ToList())
        {
            if (Graph.ConstantOf(layer.Inputs.ElementAtOrDefault(1)) is not { DataType: DataType.Float }) continue; // activations × activations
            if (MatMulNBits.WhyNot(layer, _options.BlockSize) is { } why) left.Add((layer.DisplayName, why));
            else
            {
                var weight = layer.Inputs[1]!;
                tensors.Add(MatMulNBits.Emit(model, layer, _options));
                model.Graph.RemoveInitializerIfUnused(weight); // layer by layer: the float weight goes as soon as its blocks exist
            }
        }
        model.Graph.RemoveUnusedInitializers();
        foreach (var group in left.GroupBy(l => l.Reason))
            context.Notes.Add($"{group.Count()} layer{(group.Count() == 1 ? "" : "s")} left in float ({Message.List(group.Take(3).Select(l => $"'{Message.Name(l.Layer)}'"))}" +
                $"{(group.Count() > 3 ? ", …" : "")}): {group.Key}");
        return new PassResult(model, tensors.Count > 0, new Dictionary<string, long> { ["layers"] = tensors.Count, ["left-float"] = left.Count })
        {
            Artifacts = new IArtifact[] { new QuantizationParameters { Tensors = tensors } },
        };
    }
}
