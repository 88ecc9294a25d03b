using System.Text.Json;
using Shrink.Ir;
using Shrink.Recipes;
using Shrink.Stats;

namespace Shrink.Training.Optimization;

/// <summary>
/// The layers of a model with weights, read from the ONNX graph: each Conv, Gemm, MatMul (float, or fed by a
/// DequantizeLinear of integer weights), QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger and MatMulNBits node with
/// a constant weight (read through a DequantizeLinear, or the Cast of a weight stored in half precision), its zeros, and its
/// precision: the weight's type ("float32", "float16", "bfloat16", "int8", "int4"; MatMulNBits: its
/// <c>bits</c>), or "shared N bits" for a weight a clustering stage gave a codebook of N bits.
/// </summary>
internal static class LayerPrecisions
{
    /// <summary>The input that holds the weight, per op type.</summary>
    private static readonly Dictionary<string, int> WeightInput = new()
    {
        ["Conv"] = 1, ["ConvTranspose"] = 1, ["Gemm"] = 1, ["MatMul"] = 1, ["ConvInteger"] = 1, ["MatMulInteger"] = 1, ["MatMulNBits"] = 1,
        ["QLinearConv"] = 3, ["QLinearMatMul"] = 3,
    };

    /// <summary>True for the op types whose nodes are layers with weights here.</summary>
    public static bool IsLayer(string opType) => WeightInput.ContainsKey(opType);

    /// <summary>The layers of <paramref name="model"/>; <paramref name="sharedBits"/> maps clustered weight initializers to their codebook bits.</summary>
    public static List<LayerPrecision> Of(Model model, IReadOnlyDictionary<string, int> sharedBits)
    {
        var nbits = Passes.Quantization.MatMulNBits.WeightCounts(model);
        var packed = PackedBits(model);
        var layers = new List<LayerPrecision>();
        foreach (var node in model.Graph.TopologicalOrder())
        {
            if (!WeightInput.TryGetValue(node.OpType, out var index) || index >= node.Inputs.Count) continue;
            if (Weight(node.Inputs[index]) is not { } weight) continue;
            var tensor = weight.Const!;
            var (parameters, nonZero) = nbits.TryGetValue(tensor.Name, out var c) ? c : (tensor.ElementCount, ModelStats.CountNonZero(tensor));
            var precision = sharedBits.TryGetValue(tensor.Name, out var bits) ? $"shared {bits} bits"
                : node.OpType == "MatMulNBits" ? $"int{node.GetInt("bits", 4)}"
                : packed.TryGetValue(tensor.Name, out var width) && width < tensor.DataType.BitWidth() ? $"int{width}" : Name(tensor.DataType);
            layers.Add(new LayerPrecision(node.DisplayName, node.OpType, tensor.Name, parameters, nonZero,
                parameters == 0 ? 0 : 1 - (double)nonZero / parameters, precision));
        }
        return layers;
    }

    /// <summary>The constant weight behind <paramref name="v"/>: itself, or the integer input of the DequantizeLinear (through Identity or Transpose) that makes it, or the half-precision input of its Cast.</summary>
    private static Value? Weight(Value? v)
    {
        for (var hops = 0; v is not null && hops < 4; hops++)
        {
            if (v.Const is not null) return v;
            if (v.Producer is not { OpType: "DequantizeLinear" or "Identity" or "Transpose" or "Reshape" or "Cast" } p || p.Inputs.Count == 0) return null;
            v = p.Inputs[0];
        }
        return null;
    }

    /// <summary>The packed widths the quantizer recorded (<c>shrink.weight_bits</c>: "w:4,v:4"): int4 levels stored in int8.</summary>
    private static Dictionary<string, int> PackedBits(Model model) =>
        (model.Metadata.FirstOrDefault(kv => kv.Key == Passes.Quantization.QuantizationOptions.PackedBitsKey).Value ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries).Select(e => e.Split(':'))
            .Where(p => p.Length == 2 && int.TryParse(p[1], System.Globalization.CultureInfo.InvariantCulture, out _))
            .GroupBy(p => p[0]).ToDictionary(g => g.Key, g => int.Parse(g.First()[1], System.Globalization.CultureInfo.InvariantCulture));

    private static string Name(DataType t) => t switch
    {
        DataType.Float => "float32", DataType.Float16 => "float16", DataType.BFloat16 => "bfloat16", DataType.Double => "float64",
        DataType.Int8 or DataType.UInt8 => "int8", DataType.Int4 or DataType.UInt4 => "int4", _ => t.ShortName(),
    };

    /// <summary>The codebook bits per weight initializer that the clustering stages of a trial directory recorded (their <c>codebooks</c> artifact).</summary>
    public static Dictionary<string, int> SharedBits(IEnumerable<StageMetrics> stages)
    {
        var bits = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var artifact in stages.SelectMany(s => s.Artifacts))
        {
            if (artifact.ValueKind != JsonValueKind.Object || !artifact.TryGetProperty("kind", out var kind) || kind.GetString() != "codebooks") continue;
            if (!artifact.TryGetProperty("weights", out var weights) || weights.ValueKind != JsonValueKind.Object) continue;
            foreach (var w in weights.EnumerateObject())
                if (w.Value.ValueKind == JsonValueKind.Object && w.Value.TryGetProperty("bits", out var b) && b.TryGetInt32(out var n)) bits[w.Name] = n;
        }
        return bits;
    }
}
