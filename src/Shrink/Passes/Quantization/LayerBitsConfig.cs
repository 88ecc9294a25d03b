using System.Text.Json;
using Shrink.Ir;

namespace Shrink.Passes.Quantization;

/// <summary>
/// Mixed precision: a JSON file mapping layer names to weight precisions, for example
/// <c>{"conv1": "int8", "gemm1": "int4", "gemm2": "float"}</c> (also 8, 4, 2, 1, 32, "ternary",
/// "binary"). Layers not named use <c>--weights</c>; "float" keeps a layer out of quantization.
/// </summary>
public static class LayerBitsConfig
{
    public static IReadOnlyDictionary<string, int> Read(string path, Model model)
    {
        const string Example = "{\"conv1\": \"int8\", \"gemm1\": \"int4\", \"gemm2\": \"float\"}";
        if (!File.Exists(path)) throw new OptionsException($"--layers '{path}' does not exist; give a JSON file such as {Example}");
        if (IO.FileIdentity.NotRegular(path, "--layers") is { } problem) throw new OptionsException(problem);
        Dictionary<string, JsonElement>? map;
        try
        {
            map = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new OptionsException($"--layers '{path}' is not a JSON object of layer names to precisions ({e.Message.Split('.')[0]}); write e.g. {Example}");
        }
        if (map is null || map.Count == 0) throw new OptionsException($"--layers '{path}' names no layers; write e.g. {Example}");
        var result = new Dictionary<string, int>();
        foreach (var (layer, value) in map)
        {
            if (model.Graph.FindNode(layer) is null)
                throw new OptionsException($"--layers '{path}' names layer '{Text.Message.Name(layer)}', which the model does not have; see the layer names with shrink inspect");
            var text = value.ValueKind == JsonValueKind.Number ? value.GetRawText() : value.ValueKind == JsonValueKind.String ? value.GetString()! : "";
            result[layer] = Parse(text) ?? throw new OptionsException($"--layers '{path}': layer '{layer}' has precision {value.GetRawText()}; use int8, int4, ternary, binary or float (or 8, 4, 2, 1, 32)");
        }
        return result;
    }

    /// <summary>Bits of a precision name (0 for float), or null when it is not one.</summary>
    public static int? Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "int8" or "8" => 8,
        "int4" or "4" => 4,
        "ternary" or "2" => 2,
        "binary" or "1" => 1,
        "float" or "32" or "fp32" => 0,
        _ => null,
    };
}
